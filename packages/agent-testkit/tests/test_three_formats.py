"""One script answers three wire formats: the same items, faults and chat-aware `calls[i]` whether the
app speaks Chat Completions, the Responses API or Anthropic Messages, in-process and over loopback."""

import json
import os
import subprocess
import sys

import httpx
import pytest

from agent_testkit import FakeLLM, parse_sse

# wire shapes, sent without the tools a real call offers: the script is not checked against requests
pytestmark = pytest.mark.fake_llm(checked=False)

FORMATS = {
    "chat": ("/chat/completions", {"messages": [{"role": "user", "content": "Hi"}]}),
    "responses": ("/responses", {"input": "Hi"}),
    "messages": ("/messages", {"max_tokens": 64, "messages": [{"role": "user", "content": "Hi"}]}),
}
formats = pytest.mark.parametrize("api", FORMATS)


@pytest.fixture(params=["in-process", "server"])
def fake(request: pytest.FixtureRequest) -> FakeLLM:
    return request.getfixturevalue(
        "fake_llm" if request.param == "in-process" else "fake_llm_server"
    )


async def post(
    fake: FakeLLM, api: str, *, read_timeout: float = 5, **extra: object
) -> httpx.Response:
    path, body = FORMATS[api]
    async with httpx.AsyncClient(timeout=httpx.Timeout(5, read=read_timeout)) as client:
        return await client.post(fake.base_url + path, json={"model": "m", **body, **extra})


async def test_one_script_across_the_formats_in_turn(fake):
    fake.script(
        fake.reply("From chat."),
        fake.respond(lambda call: fake.reply(f"Seen as {call.api}.")),
        fake.tool_call("create_task", title="T"),
    )
    chat = (await post(fake, "chat")).json()
    responses = (await post(fake, "responses")).json()
    messages = (await post(fake, "messages")).json()
    assert chat["choices"][0]["message"]["content"] == "From chat."
    assert responses["output"][0]["content"][0]["text"] == "Seen as responses."
    assert messages["content"][0] == {
        "type": "tool_use",
        "id": messages["content"][0]["id"],
        "name": "create_task",
        "input": {"title": "T"},
    }
    assert [c.api for c in fake.calls] == ["chat", "responses", "messages"]
    assert all(c.last_user_message == "Hi" for c in fake.calls)


@formats
async def test_streams_end_as_each_format_ends(fake, api):
    fake.script(fake.reply("One two."))
    events = parse_sse((await post(fake, api, stream=True)).text)
    last = {"chat": "[DONE]", "responses": "response.completed", "messages": "message_stop"}[api]
    assert (events[-1].data if api == "chat" else events[-1].event) == last


@formats
@pytest.mark.parametrize(
    ("item", "status"),
    [
        (FakeLLM.rate_limited(retry_after=1), 429),
        (FakeLLM.server_error(503, retry_after_ms=5), 503),
        (FakeLLM.overloaded(), 529),
        (FakeLLM.malformed("{}", status=200), 200),
    ],
    ids=["rate_limited", "server_error", "overloaded", "malformed"],
)
async def test_error_items_in_every_format(fake, api, item, status):
    fake.script(item)
    r = await post(fake, api)
    assert r.status_code == status
    if status == 429:
        assert r.headers["retry-after"] == "1" and "retry-after-ms" not in r.headers
    if status == 200:
        assert r.content == b"{}"
    elif api == "messages":
        assert r.json()["type"] == "error"
    else:
        assert set(r.json()["error"]) == {"message", "type", "param", "code"}


@formats
@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_connection_faults_in_every_format(fake, api, stream):
    fake.script(fake.timeout(), fake.disconnect(), fake.cut_stream(after=2))
    with pytest.raises(httpx.ReadTimeout):
        await post(fake, api, stream=stream)
    with pytest.raises(httpx.RemoteProtocolError):
        await post(fake, api, stream=stream)
    with pytest.raises(httpx.RemoteProtocolError):
        await post(fake, api, stream=stream)


@formats
async def test_malformed_sse_in_every_format(fake, api):
    fake.script(fake.malformed_sse())
    events = parse_sse((await post(fake, api, stream=True)).text)
    with pytest.raises(json.JSONDecodeError):
        events[1].json()
    events[0].json()  # the first frame is a good one


@formats
async def test_a_call_beyond_the_script_fails_in_every_format(fake, api):
    r = await post(fake, api)
    assert r.status_code == 500 and r.headers["x-should-retry"] == "false"
    assert "call 1 is beyond the script (0 item(s) scripted)" in r.text  # counted from 1
    assert len(fake.unexpected_calls) == 1
    fake.unexpected_calls.clear()


@formats
async def test_respond_and_pacing_in_every_format(fake, api):
    fake.script(fake.respond(lambda call: fake.reply(call.api, chunk_delay=0.02)))
    r = await post(fake, api, stream=True)
    assert api in r.text.replace('\\"', '"')
    assert r.elapsed.total_seconds() >= 0.04


def test_the_readme_example_of_an_app_in_another_process(fake_llm_server):
    fake_llm_server.script(
        fake_llm_server.reply("Hello from the fake."), fake_llm_server.reply("And from Claude.")
    )
    env = os.environ | {
        "OPENAI_BASE_URL": fake_llm_server.base_url,
        "OPENAI_API_KEY": "sk-test",
        "ANTHROPIC_BASE_URL": fake_llm_server.base_url.removesuffix("/v1"),
        "ANTHROPIC_API_KEY": "sk-test",
    }
    app = (
        "import anthropic, openai; print(openai.OpenAI().responses.create(model='m', input='Hi')"
        ".output_text); print(anthropic.Anthropic().messages.create(model='m', max_tokens=9, "
        "messages=[{'role': 'user', 'content': 'Hi'}]).content[0].text)"
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", app],
        env=env,
        capture_output=True,
        text=True,
        timeout=90,  # a deadline: two SDK imports take seconds on a loaded machine
        check=False,
    )
    assert done.stdout.splitlines() == ["Hello from the fake.", "And from Claude."], done.stderr
    assert [c.api for c in fake_llm_server.calls] == ["responses", "messages"]
    assert fake_llm_server.calls[0].last_user_message == "Hi"
