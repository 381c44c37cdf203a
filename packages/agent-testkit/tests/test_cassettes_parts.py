"""The cassette parts one by one: scrubbing rules, chat matching, the file format, the vcrpy converter, and
what the committed cassette files hold."""

from pathlib import Path

import pytest
import yaml

from agent_testkit.cassettes import (
    Body,
    CassetteFormatError,
    Matcher,
    RecordedRequest,
    RecordedResponse,
    Scrubber,
    convert_vcr_cassette,
    is_secret_name,
    load_cassette,
    split_sse_events,
)
from agent_testkit.cassettes.__main__ import main as cassettes_cli
from agent_testkit.cassettes.files import dump_yaml

FIXTURES = Path(__file__).parent / "fixtures"
CHAT_URL = "https://api.openai.com/v1/chat/completions"

# -- scrubbing --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["api_key", "apiKey", "x-api-key", "access_token", "token", "client_secret", "PASSWORD",
             "Authorization", "OPENAI_API_KEY", "GITHUB_TOKEN", "secret_key", "webhookSecret"],
)  # fmt: skip
def test_secret_names(name):
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["max_tokens", "prompt_tokens", "total_tokens", "token_type", "tokenizer", "key_id",
             "monkey", "keyboard", "model", "messages", "primary_key_column"],
)  # fmt: skip
def test_names_that_only_look_secret(name):
    assert not is_secret_name(name)


def scrubber(**extra) -> Scrubber:
    return Scrubber(values=()).extend(**extra)


def test_scrubs_headers_query_and_url_credentials():
    request = RecordedRequest(
        "GET",
        "https://user:pw@api.example.com/v1/x?api_key=K1&page=2&sig=S1&my_code=C1",
        {"authorization": ["Bearer sk-live-123"], "x-vendor-token": ["T1"], "accept": ["*/*"]},
    )
    scrubbed = scrubber(query_params=["my_code"]).request(request)
    assert scrubbed.url == (
        "https://<scrubbed>@api.example.com/v1/x?api_key=<scrubbed>&page=2&sig=<scrubbed>"
        "&my_code=<scrubbed>"
    )
    assert scrubbed.headers == {
        "authorization": ["<scrubbed>"],
        "x-vendor-token": ["<scrubbed>"],
        "accept": ["*/*"],
    }


def test_scrubs_json_fields_by_name_but_keeps_counts_and_logprob_tokens():
    body = {
        "api_key": "K1",
        "nested": {"refresh_token": "R1", "credentials": {"user": "u", "pass": "p"}},
        "max_tokens": 100,
        "usage": {"prompt_tokens": 5, "total_tokens": 9},
        "logprobs": {"content": [{"token": "Hello", "logprob": -0.1}]},
        "my_field": "X1",
    }
    scrubbed = scrubber(fields=["my_field"]).json(body)
    assert scrubbed == {
        "api_key": "<scrubbed>",
        "nested": {"refresh_token": "<scrubbed>", "credentials": {"user": "<scrubbed>", "pass": "<scrubbed>"}},
        "max_tokens": 100,
        "usage": {"prompt_tokens": 5, "total_tokens": 9},
        "logprobs": {"content": [{"token": "Hello", "logprob": -0.1}]},
        "my_field": "<scrubbed>",
    }  # fmt: skip


def test_scrubs_known_secret_values_anywhere_even_inside_stream_chunks():
    env = {"OPENAI_API_KEY": "sk-live-abcdef123456", "HOME": "/home/someone-long-enough"}
    scrubber = Scrubber(values=Scrubber().values[:0]).extend(
        values=[v for k, v in env.items() if is_secret_name(k)]
    )
    chunks = [b'data: {"echo":"sk-live-abcdef123456","access_token":"T2"}\n\n', b"data: [DONE]\n\n"]
    response = RecordedResponse(
        200, {"content-type": ["text/event-stream"]}, Body.streamed(chunks, [1.0, 2.0])
    )
    scrubbed = scrubber.response(response)
    assert scrubbed.body.chunks == [
        b'data: {"echo":"<scrubbed>","access_token":"<scrubbed>"}\n\n',
        b"data: [DONE]\n\n",
    ]
    assert scrubbed.body.delays_ms == [1.0, 2.0]  # same chunks, same pace


def test_a_request_credential_is_scrubbed_from_the_response_that_echoes_it():
    base = Scrubber(values=())
    headers = {"authorization": ["Bearer sk-live-echoed-0001"]}
    echoed = RecordedResponse(
        200, {}, Body(kind="text", text="your key sk-live-echoed-0001 is fine")
    )
    assert base.with_request_credentials(headers).response(echoed).body.text == (
        "your key <scrubbed> is fine"
    )


def test_form_bodies_are_scrubbed_like_query_strings():
    request = RecordedRequest(
        "POST",
        "https://auth.example.com/token",
        {"content-type": ["application/x-www-form-urlencoded"]},
        Body(kind="text", text="grant_type=client_credentials&client_secret=S3"),
    )
    assert scrubber().request(request).body.text == (
        "grant_type=client_credentials&client_secret=<scrubbed>"
    )


# -- matching ---------------------------------------------------------------------------------------------


def chat(**body) -> RecordedRequest:
    return RecordedRequest("POST", CHAT_URL, {}, Body(kind="json", json=body))


def turn(first: str = "call_A", second: str = "call_B", *, answers: tuple = (0, 1)) -> list:
    """A user message, two parallel tool calls, and their results (in `answers` order of the calls)."""
    calls = [
        {"id": first, "type": "function", "function": {"name": "t", "arguments": '{"x":1}'}},
        {"id": second, "type": "function", "function": {"name": "t", "arguments": '{"x":2}'}},
    ]
    results = [{"role": "tool", "tool_call_id": calls[i]["id"], "content": c}
               for i, c in zip(answers, ["one", "two"], strict=True)]  # fmt: skip
    return [
        {"role": "user", "content": "Add a task"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        *results,
    ]


def test_chat_match_ignores_sampling_user_and_ids_but_keeps_call_linkage():
    matcher = Matcher()
    recorded = chat(model="m", messages=turn(), stream=True, temperature=0.0)
    same = chat(
        model="m",
        messages=turn("id-1", "id-2"),
        stream=True,
        temperature=0.9,
        seed=1,
        user="u",
        stream_options={"include_usage": True},
    )
    assert matcher.differences(recorded, same) == []
    swapped = chat(model="m", messages=turn("id-1", "id-2", answers=(1, 0)), stream=True)
    assert matcher.differences(recorded, swapped) == [
        "messages[2].tool_call_id: sent '<id 2>', recorded '<id 1>'"
    ]


def test_chat_match_reads_content_parts_and_argument_whitespace_as_the_same():
    recorded = chat(model="m", messages=[{"role": "user", "content": "Hi"}])
    parts = chat(
        model="m", messages=[{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    )
    assert Matcher().differences(recorded, parts) == []
    tight = turn()
    spaced = turn()
    spaced[1]["tool_calls"][0]["function"]["arguments"] = '{ "x": 1 }'
    assert Matcher().differences(chat(messages=tight), chat(messages=spaced)) == []


def test_chat_match_explains_the_first_difference():
    recorded = chat(model="gpt-4o", messages=[{"role": "user", "content": "Paris?"}])
    assert Matcher().differences(
        recorded, chat(model="gpt-4o", messages=[{"role": "user", "content": "London?"}])
    ) == ["messages[0].content: sent 'London?', recorded 'Paris?'"]
    assert Matcher().differences(recorded, chat(model="gpt-5", messages=recorded.body.json["messages"])) == [
        "model: sent 'gpt-5', recorded 'gpt-4o'"
    ]  # fmt: skip
    without_model = Matcher(chat_match_on=("messages", "tools"))
    assert without_model.differences(recorded, chat(model="gpt-5", messages=recorded.body.json["messages"])) == []  # fmt: skip


def test_other_requests_match_on_method_url_and_json_body():
    recorded = RecordedRequest(
        "POST", "https://x.test/a?b=1&c=2", {}, Body(kind="json", json={"k": 1})
    )
    assert Matcher().differences(recorded, RecordedRequest("POST", "https://x.test:443/a?c=2&b=1", {}, Body(kind="json", json={"k": 1}))) == []  # fmt: skip
    assert Matcher().differences(recorded, RecordedRequest("POST", "https://x.test/a?b=1&c=2", {}, Body(kind="json", json={"k": 2}))) == ["k: sent 2, recorded 1"]  # fmt: skip
    diff = RecordedRequest("GET", "https://x.test/pr", {"accept": ["application/vnd.github.diff"]})
    as_json = RecordedRequest("GET", "https://x.test/pr", {"accept": ["application/json"]})
    assert Matcher().differences(diff, as_json) == []
    assert Matcher(("method", "url", "header:accept")).differences(diff, as_json) == [
        "header accept: sent 'application/json', recorded 'application/vnd.github.diff'"
    ]
    with pytest.raises(ValueError, match="unknown match_on rule 'headers'"):
        Matcher(("headers",))


# -- the file format --------------------------------------------------------------------------------------


def test_stream_chunks_are_literal_blocks_that_round_trip():
    chunks = [b'data: {"a":1}\n\n', b"data: [DONE]\n\n", b"\xe2\x82"]  # the last splits a character
    text = dump_yaml({"chunks": [c.decode() for c in chunks[:2]]})
    assert text.startswith('chunks:\n- |+\n  data: {"a":1}\n\n- |+\n  data: [DONE]\n\n')
    body = Body.from_yaml(Body.streamed(chunks, [0.0, 1.5, 2.0]).to_yaml())
    assert body.chunks == chunks and body.delays_ms == [0.0, 1.5, 2.0]


def test_a_file_that_is_not_a_cassette_says_how_to_convert_it(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump({"interactions": []}))
    with pytest.raises(CassetteFormatError, match=r"python -m agent_testkit.cassettes convert"):
        load_cassette(path)


# -- the converter ----------------------------------------------------------------------------------------


def test_sse_bodies_split_at_event_boundaries():
    assert split_sse_events(b"data: 1\n\ndata: 2\n\ndata: [DONE]\n\n") == [
        b"data: 1\n\n",
        b"data: 2\n\n",
        b"data: [DONE]\n\n",
    ]


@pytest.mark.parametrize(
    "name", ["chat_stream_tool_calls_then_text.yaml", "chat_tool_calls_nonstream.yaml"]
)
def test_committed_openai_cassettes_are_the_converters_output(tmp_path, name, capsys):
    committed = FIXTURES / "cassettes/openai" / name
    source = load_cassette(committed).source
    assert cassettes_cli(["convert", str(FIXTURES / "vcrpy" / name), "--out", str(tmp_path), "--source", source]) == 0  # fmt: skip
    assert (tmp_path / name).read_text() == committed.read_text()
    assert "2 interactions" in capsys.readouterr().out


def test_converted_stream_keeps_every_event_and_the_recording_date():
    cassette = convert_vcr_cassette(FIXTURES / "vcrpy/chat_stream_tool_calls_then_text.yaml")
    first = cassette.interactions[0]
    assert first.request.body.json["model"] == "gpt-4o-mini"  # pydantic-ai's parsed_body
    assert len(first.response.body.chunks) == 9
    assert first.response.headers["content-type"] == ["text/event-stream; charset=utf-8"]
    assert "content-length" not in first.request.headers  # the body is re-encoded on replay
    assert cassette.recorded_at is not None and cassette.recorded_at.isoformat() == (
        "2026-07-02T01:30:17+00:00"
    )  # from the chunks' `created`


SECRETS_IN_THE_SOURCES = [
    "__cf_bm=yM.C6I_kAzJk3Dm7H52actN1zAEW8fj",  # a Cloudflare cookie the OpenAI recording carried
    "_cfuvid=JCllInpf6fg1JdOS7xSj3bZOXYf9PYJ8uoamRTx7ku4",
    "pydantic-28gund",  # the recording account's organization
]
SECRET_SHAPES = ["sk-", "ghp_", "Bearer ", "__cf_bm", "_cfuvid", "proj_"]


def test_no_secret_in_any_committed_cassette():
    sources = "".join(p.read_text() for p in (FIXTURES / "vcrpy").glob("*.yaml"))
    assert all(secret in sources for secret in SECRETS_IN_THE_SOURCES)  # the check is not vacuous
    cassettes = sorted((FIXTURES / "cassettes").rglob("*.yaml"))
    assert len(cassettes) == 10
    for path in cassettes:
        text = path.read_text()
        for secret in SECRETS_IN_THE_SOURCES + SECRET_SHAPES:
            assert secret not in text, f"{secret!r} in {path.name}"
