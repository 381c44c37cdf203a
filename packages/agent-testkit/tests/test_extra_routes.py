"""Scriptable extra routes: moderations, images, audio, files and batches answer through the openai SDK
when a test asks (`fake_llm.route(...)`), with a realistic default or what the test gives; unasked, they
stay a 404 that fails the test."""

import base64
import io
import json

import openai
import pytest

from agent_testkit import FakeLLM


def test_moderations_default_and_scripted(fake_llm: FakeLLM):
    client = openai.OpenAI()
    fake_llm.route("moderations")
    answer = client.moderations.create(input=["hello", "there"])
    assert [r.flagged for r in answer.results] == [False, False]
    assert answer.results[0].categories.harassment_threatening is False
    flagged = {"id": "modr-1", "model": "m", "results": [{"flagged": True, "categories": {}}]}
    fake_llm.route("POST /v1/moderations", json=flagged)  # the latest wins
    assert client.moderations.create(input="bad").results[0].flagged is True
    assert [c.json["input"] for c in fake_llm.route_calls] == [["hello", "there"], "bad"]


def test_images_and_audio_defaults(fake_llm: FakeLLM):
    client = openai.OpenAI()
    fake_llm.route("images").route("audio")
    image = client.images.generate(model="gpt-image-1", prompt="a cat", n=2)
    assert len(image.data or []) == 2
    assert base64.b64decode(image.data[0].b64_json or "").startswith(b"\x89PNG")  # type: ignore[index]
    speech = client.audio.speech.create(model="tts-1", voice="alloy", input="Hi")
    assert speech.content.startswith(b"ID3")
    audio = ("hello.mp3", io.BytesIO(b"ID3 audio"), "audio/mpeg")
    text = client.audio.transcriptions.create(model="whisper-1", file=audio)
    assert text.text == "This is the fake LLM's transcription."
    assert fake_llm.route_calls[-1].form["model"] == "whisper-1"
    assert fake_llm.route_calls[-1].form["file"].content == b"ID3 audio"


def test_files_and_a_batch_that_completes_with_the_default_reply(fake_llm: FakeLLM):
    client = openai.OpenAI()
    fake_llm.route("files").route("batches")
    line = {
        "custom_id": "q1",
        "method": "POST",
        "url": "/v1/chat/completions",
        "body": {"model": "m"},
    }
    uploaded = client.files.create(
        file=("in.jsonl", io.BytesIO(json.dumps(line).encode()), "application/jsonl"),
        purpose="batch",
    )
    assert (uploaded.filename, uploaded.purpose, uploaded.status) == (
        "in.jsonl",
        "batch",
        "processed",
    )
    assert [f.id for f in client.files.list()] == [uploaded.id]
    batch = client.batches.create(
        input_file_id=uploaded.id, endpoint="/v1/chat/completions", completion_window="24h"
    )
    assert client.batches.retrieve(batch.id).status == "completed"
    output = client.files.content(batch.output_file_id or "").text
    [result] = [json.loads(row) for row in output.splitlines()]
    assert result["custom_id"] == "q1"
    assert result["response"]["body"]["choices"][0]["message"]["content"].startswith("This is")
    assert client.files.delete(uploaded.id).deleted
    with pytest.raises(openai.NotFoundError):
        client.files.retrieve(uploaded.id)


def test_respond_decides_from_the_request(fake_llm: FakeLLM):
    fake_llm.route(
        "POST /v1/audio/speech",
        respond=lambda call: f"audio of {call.json['input']}".encode(),
        content_type="audio/mpeg",
    )
    speech = openai.OpenAI().audio.speech.create(model="tts-1", voice="alloy", input="Hi")
    assert speech.content == b"audio of Hi"


def test_a_route_without_a_default_says_what_to_give(fake_llm: FakeLLM):
    with pytest.raises(ValueError, match="no default answer for 'POST /v1/fine_tuning/jobs'"):
        fake_llm.route("POST /v1/fine_tuning/jobs")
    fake_llm.route("POST /v1/fine_tuning/jobs", json={"id": "ftjob-1"}, status=201)
    created = openai.OpenAI().fine_tuning.jobs.create(model="m", training_file="file-1")
    assert created.id == "ftjob-1"


def test_unasked_routes_still_fail(fake_llm: FakeLLM):
    with pytest.raises(openai.NotFoundError, match="does not implement POST /v1/moderations"):
        openai.OpenAI().moderations.create(input="hello")
    assert fake_llm.unknown_routes == ["POST /v1/moderations"]
    fake_llm.unknown_routes.clear()
