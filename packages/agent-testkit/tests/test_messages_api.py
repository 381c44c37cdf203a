"""`POST /v1/messages` (Anthropic): bodies and events validated by the anthropic SDK's own models, and
read by its default client at its default base URL (no configuration)."""

import json

import anthropic
import httpx
import httpx2
import pydantic
import pytest
from anthropic.types import Message, RawMessageStreamEvent

from agent_testkit import FakeLLM, parse_sse

# wire shapes, sent without the tools a real call offers: the script is not checked against requests
pytestmark = pytest.mark.fake_llm(checked=False)

URL = "https://api.anthropic.com/v1/messages"
TOOLS = [
    {
        "name": "create_task",
        "description": "Create a task",
        "input_schema": {"type": "object", "properties": {"title": {"type": "string"}}},
    }
]
BODY = {"model": "claude-test", "max_tokens": 256, "messages": [{"role": "user", "content": "Hi"}]}
ANSWERS = {
    "reply": FakeLLM.reply("Hello there, how can I help?"),
    "tool_call": FakeLLM.tool_call("create_task", title="Write tests", priority="high"),
    "parallel": FakeLLM.tool_calls(
        [FakeLLM.tool_call("a", x=12345678), FakeLLM.tool_call("b", text="a longer value")],
        content="Both.",
    ),
}
STREAM_EVENT = pydantic.TypeAdapter(RawMessageStreamEvent)


@pytest.fixture
async def http(fake_llm: FakeLLM):
    async with httpx.AsyncClient() as client:
        yield client


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
async def test_json_body_is_an_sdk_message(fake_llm, http, answer):
    fake_llm.script(answer)
    r = await http.post(URL, json=BODY | {"tools": TOOLS})
    message = Message.model_validate(r.json(), strict=False)
    assert message.stop_reason == ("end_turn" if answer is ANSWERS["reply"] else "tool_use")
    assert message.usage.input_tokens > 0 and message.usage.output_tokens > 0


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
async def test_stream_events_are_sdk_events(fake_llm, http, answer):
    fake_llm.script(answer)
    r = await http.post(URL, json=BODY | {"stream": True})
    events = parse_sse(r.text)
    for event in events:
        if event.event == "ping":  # a keep-alive the SDK skips; not one of its event types
            assert event.json() == {"type": "ping"}
            continue
        parsed = STREAM_EVENT.validate_python(event.json())
        assert parsed.type == event.event
    kinds = [e.event for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds[1:3] == [
        "content_block_start",
        "ping",
    ]  # where Anthropic's documented stream pings
    deltas = [e.json()["delta"]["type"] for e in events if e.event == "content_block_delta"]
    expected = {"text_delta"} if answer is ANSWERS["reply"] else {"input_json_delta"}
    assert expected <= set(deltas)


@pytest.mark.parametrize(
    ("item", "status", "error_type"),
    [
        (FakeLLM.rate_limited(retry_after=2), 429, "rate_limit_error"),
        (FakeLLM.overloaded(), 529, "overloaded_error"),
        (FakeLLM.server_error(), 500, "api_error"),
    ],
    ids=["429", "529", "500"],
)
async def test_errors_in_anthropic_shape(fake_llm, http, item, status, error_type):
    fake_llm.script(item)
    r = await http.post(URL, json=BODY)
    assert r.status_code == status
    body = r.json()
    assert body["type"] == "error" and body["error"]["type"] == error_type
    assert body["request_id"] == r.headers["request-id"]
    if status == 429:
        assert r.headers["retry-after"] == "2"


async def test_the_sdk_reads_a_reply(fake_llm):
    fake_llm.script(fake_llm.reply("Hello from the fake."))
    message = await anthropic.AsyncAnthropic().messages.create(
        model="claude-test",
        max_tokens=64,
        system="You manage tasks.",
        messages=[{"role": "user", "content": "Add a task"}],
    )
    assert message.content[0].type == "text" and message.content[0].text == "Hello from the fake."
    call = fake_llm.calls[0]
    assert (call.api, call.system_prompt, call.last_user_message) == (
        "messages",
        "You manage tasks.",
        "Add a task",
    )


async def test_a_tool_loop_reads_the_tool_result_back(fake_llm):
    fake_llm.script(fake_llm.tool_call("create_task", title="Write tests"), fake_llm.reply("Done."))
    client = anthropic.AsyncAnthropic()
    messages: list = [{"role": "user", "content": "Add a task"}]
    first = await client.messages.create(
        model="claude-test",
        max_tokens=64,
        messages=messages,
        tools=TOOLS,  # type: ignore[arg-type]
    )
    use = first.content[0]
    assert use.type == "tool_use" and use.input == {"title": "Write tests"}
    messages += [
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": '{"id": "t1"}'}],
        },
    ]
    second = await client.messages.create(model="claude-test", max_tokens=64, messages=messages)
    assert second.content[0].text == "Done."  # type: ignore[union-attr]
    recorded = fake_llm.calls[1]
    assert recorded.tool_result("create_task") == '{"id": "t1"}'
    assert recorded.tool_result(use.id) == '{"id": "t1"}'
    assert fake_llm.calls[0].tool_names == ["create_task"]
    assert recorded.messages[1]["tool_calls"][0]["function"]["name"] == "create_task"


async def test_the_sdk_stream_helper_accumulates_parallel_tool_uses(fake_llm):
    fake_llm.script(ANSWERS["parallel"])
    client = anthropic.AsyncAnthropic()
    async with client.messages.stream(
        model="claude-test", max_tokens=64, messages=BODY["messages"], tools=TOOLS
    ) as stream:
        partials = [e async for e in stream if e.type == "input_json"]
        final = await stream.get_final_message()
    uses = [b for b in final.content if b.type == "tool_use"]
    assert [(u.name, u.input) for u in uses] == [
        ("a", {"x": 12345678}),
        ("b", {"text": "a longer value"}),
    ]
    assert final.content[0].type == "text" and final.content[0].text == "Both."
    assert final.stop_reason == "tool_use" and len(partials) > 2


@pytest.mark.parametrize("item", [FakeLLM.rate_limited(), FakeLLM.overloaded()], ids=["429", "529"])
async def test_the_sdk_retries_429_and_529(fake_llm, item):
    fake_llm.script(item, fake_llm.reply("After the wait."))
    client = anthropic.AsyncAnthropic(max_retries=1)
    client._calculate_retry_timeout = lambda *args: 0.01  # type: ignore[method-assign]  # 529: no header
    message = await client.messages.create(
        model="claude-test", max_tokens=64, messages=BODY["messages"]
    )  # type: ignore[arg-type]
    assert message.content[0].text == "After the wait."  # type: ignore[union-attr]
    assert len(fake_llm.calls) == 2


@pytest.mark.parametrize(
    ("item", "error"),
    [
        (FakeLLM.rate_limited(), anthropic.RateLimitError),
        (FakeLLM.overloaded(), anthropic.OverloadedError),
        (FakeLLM.disconnect(), anthropic.APIConnectionError),
        (FakeLLM.malformed("not json"), json.JSONDecodeError),
    ],
    ids=["429", "529", "disconnect", "malformed"],
)
async def test_faults_as_the_sdk_sees_them(fake_llm, item, error):
    fake_llm.script(item)
    client = anthropic.AsyncAnthropic(max_retries=0)
    with pytest.raises(error):
        await client.messages.create(model="claude-test", max_tokens=64, messages=BODY["messages"])  # type: ignore[arg-type]


async def test_cut_stream(fake_llm):
    fake_llm.script(fake_llm.cut_stream(after=3))
    client = anthropic.AsyncAnthropic(max_retries=0)
    received: list[str] = []

    async def read_stream() -> None:
        async with client.messages.stream(
            model="claude-test", max_tokens=64, messages=BODY["messages"]
        ) as stream:
            async for event in stream:
                received.append(event.type)

    # anthropic >= 2.17 wraps a failed read of the body (anthropic/_streaming.py, async_iter_response_bytes)
    # as it wraps a failed connect: an APIConnectionError whose cause is the transport's error.
    with pytest.raises(anthropic.APIConnectionError, match="incomplete chunked read") as caught:
        await read_stream()
    assert isinstance(caught.value.__cause__, httpx2.RemoteProtocolError)
    assert received[0] == "message_start"  # the events before the cut were delivered


async def test_count_tokens(fake_llm):
    count = await anthropic.AsyncAnthropic().messages.count_tokens(
        model="claude-test", messages=BODY["messages"], tools=TOOLS
    )
    assert count.input_tokens > 0
    assert fake_llm.calls == []  # not a model call: takes no script item


async def test_models_list_in_anthropic_shape(fake_llm):
    page = await anthropic.AsyncAnthropic().models.list()
    assert [m.id for m in page.data] == ["fake-model", "fake-embedding"]
    assert all(m.type == "model" and m.display_name for m in page.data)
    assert page.first_id == "fake-model" and page.last_id == "fake-embedding"
    assert page.has_more is False


async def test_models_list_stays_in_openai_shape_for_openai_clients(fake_llm, http):
    body = (await http.get("https://api.openai.com/v1/models")).json()
    assert body["object"] == "list" and body["data"][0]["object"] == "model"
