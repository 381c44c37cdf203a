"""The fourth dialect: Gemini's generateContent and streamGenerateContent, through google-genai's default
client (no base URL, a placeholder key; sync on httpx, async on aiohttp), and on the wire."""

import json
from typing import Any

import httpx
import pytest
from google import genai
from google.genai import errors, types
from pydantic import BaseModel

from agent_testkit import FakeLLM
from agent_testkit.cassettes import load_cassette, use_cassette

# google-genai's async client subclasses aiohttp's ClientSession, which aiohttp warns about
pytestmark = pytest.mark.filterwarnings(
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)
MODEL = "gemini-2.5-flash"
GEMINI = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"


def get_weather(city: str) -> str:
    """The weather in a city."""
    return json.dumps({"city": city, "sky": "sunny"})


def no_automatic_calls(**options: Any) -> types.GenerateContentConfig:
    return types.GenerateContentConfig(
        automatic_function_calling=types.AutomaticFunctionCallingConfig(disable=True), **options
    )


def test_a_reply_and_what_the_model_was_sent(fake_llm: FakeLLM):
    fake_llm.script(fake_llm.reply("Hello there."))
    config = types.GenerateContentConfig(system_instruction="Be brief.")
    client = genai.Client()  # kept: a Client closes its connections when collected
    answer = client.models.generate_content(model=MODEL, contents="Hi", config=config)
    assert answer.text == "Hello there."
    assert answer.usage_metadata and answer.usage_metadata.total_token_count
    call = fake_llm.calls[0]
    assert (call.api, call.model, call.stream) == ("gemini", MODEL, False)
    assert call.messages == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


def test_automatic_function_calling_round_trip(fake_llm: FakeLLM):
    fake_llm.script(fake_llm.tool_call("get_weather", city="Paris"), fake_llm.reply("Sunny."))
    config = types.GenerateContentConfig(tools=[get_weather])
    client = genai.Client()
    answer = client.models.generate_content(
        model=MODEL, contents="Weather in Paris?", config=config
    )
    assert answer.text == "Sunny."
    assert fake_llm.calls[0].tool_names == ["get_weather"]
    assert fake_llm.calls[0].tools[0]["function"]["parameters"]["required"] == ["city"]
    result = fake_llm.calls[1].tool_result_json("get_weather")
    assert json.loads(result["result"]) == {"city": "Paris", "sky": "sunny"}
    assert [m["role"] for m in fake_llm.calls[1].messages] == ["user", "assistant", "tool"]


async def test_async_stream_of_words_and_a_function_call(fake_llm: FakeLLM):
    fake_llm.script(
        fake_llm.reply("Streaming works fine."), fake_llm.tool_call("get_weather", city="Oslo")
    )
    client = genai.Client()
    chunks = await client.aio.models.generate_content_stream(model=MODEL, contents="Hi")
    texts = [chunk.text async for chunk in chunks]
    assert texts == ["Streaming ", "works ", "fine."]
    config = no_automatic_calls(tools=[get_weather])
    stream = await client.aio.models.generate_content_stream(
        model=MODEL, contents="Weather?", config=config
    )
    calls = [fc async for chunk in stream for fc in chunk.function_calls or []]
    assert [(fc.name, fc.args) for fc in calls] == [("get_weather", {"city": "Oslo"})]
    assert all(call.stream for call in fake_llm.calls)


def test_a_rate_limit_is_google_s_error(fake_llm: FakeLLM):
    fake_llm.script(fake_llm.rate_limited())
    client = genai.Client()
    with pytest.raises(errors.ClientError) as error:
        client.models.generate_content(model=MODEL, contents="Hi")
    assert (error.value.code, error.value.status) == (429, "RESOURCE_EXHAUSTED")


class Weather(BaseModel):
    city: str
    celsius: float


def test_structured_output_is_checked_against_the_response_schema(fake_llm: FakeLLM):
    fake_llm.script(
        fake_llm.reply('{"city": "Paris", "celsius": 21}'), fake_llm.reply('{"city": "Paris"}')
    )
    config = types.GenerateContentConfig(
        response_mime_type="application/json", response_schema=Weather
    )
    client = genai.Client()
    answer = client.models.generate_content(model=MODEL, contents="Weather?", config=config)
    assert answer.parsed == Weather(city="Paris", celsius=21)
    with pytest.raises(errors.ClientError):
        client.models.generate_content(model=MODEL, contents="Weather?", config=config)
    assert "'celsius' is a required property" in fake_llm.errors.pop()


def test_a_misspelled_function_fails(fake_llm: FakeLLM):
    fake_llm.script(fake_llm.tool_call("get_wether", city="Paris"))
    client = genai.Client()
    with pytest.raises(errors.ClientError):
        client.models.generate_content(
            model=MODEL, contents="Hi", config=no_automatic_calls(tools=[get_weather])
        )
    assert "the request offered the tools: ['get_weather']" in fake_llm.errors.pop()


def test_the_wire_format(fake_llm: FakeLLM):
    fake_llm.script(fake_llm.reply("Hi there."), fake_llm.reply("Two words."))
    body = {"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}
    answer = httpx.post(f"{GEMINI}:generateContent", json=body).json()
    assert answer["candidates"][0]["content"] == {"role": "model", "parts": [{"text": "Hi there."}]}
    assert answer["candidates"][0]["finishReason"] == "STOP"
    assert set(answer["usageMetadata"]) == {
        "promptTokenCount",
        "candidatesTokenCount",
        "totalTokenCount",
    }
    streamed = httpx.post(f"{GEMINI}:streamGenerateContent?alt=sse", json=body)
    frames = [json.loads(line[6:]) for line in streamed.text.splitlines() if line]
    assert [f["candidates"][0]["content"]["parts"][0]["text"] for f in frames] == ["Two ", "words."]
    assert "finishReason" in frames[-1]["candidates"][0] and "usageMetadata" in frames[-1]
    counted = httpx.post(f"{GEMINI}:countTokens", json=body).json()
    assert counted["totalTokens"] > 0


def test_a_cassette_records_and_replays_gemini(fake_llm_server, tmp_path):
    """Recorded from the fake served on loopback (a real HTTP upstream, the key scrubbed), replayed with
    nothing scripted: the stream keeps its chunks, the conversation is matched by meaning."""
    fake_llm_server.script(
        fake_llm_server.reply("Recorded once."), fake_llm_server.reply("Then twice.")
    )
    root = fake_llm_server.base_url.removesuffix("/v1")
    client = genai.Client(api_key="AIza-SECRET", http_options=types.HttpOptions(base_url=root))
    path = tmp_path / "gemini.yaml"

    def ask() -> tuple[str | None, list[str | None]]:
        one = client.models.generate_content(model=MODEL, contents="Hi")
        chunks = client.models.generate_content_stream(model=MODEL, contents="Again")
        return one.text, [chunk.text for chunk in chunks]

    with use_cassette(path, record_mode="once"):
        recorded = ask()
    assert recorded == ("Recorded once.", ["Then ", "twice."])
    assert "AIza-SECRET" not in path.read_text()
    assert len(fake_llm_server.calls) == 2
    with use_cassette(path, record_mode="none"):
        assert ask() == recorded
    assert len(fake_llm_server.calls) == 2  # replayed, not asked again
    cassette = load_cassette(path)
    assert [len(i.response.body.chunks or []) for i in cassette.interactions][1] == 2
