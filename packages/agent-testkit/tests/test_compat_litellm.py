"""litellm on its defaults (no base URL, no key, its own transports): `acompletion` goes through aiohttp,
`completion` through httpx. For an OpenAI and an Anthropic model each: a tool round trip and a streamed
tool call, async and sync. Naming follows test_compat_clients.py (`scripts/compat_table.py` reads it)."""

import json
from typing import Any

import aiohttp
import litellm
import pytest

from agent_testkit import FakeLLM

PROMPT = "Add a task called Write tests"
RESULT = '{"id": "t1", "title": "Write tests"}'
TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "create_task",
            "parameters": {"type": "object", "properties": {"title": {"type": "string"}}},
        },
    }
]
pytestmark = pytest.mark.filterwarnings(
    # litellm's own types, built on first use: not the kit's, not the test's
    "ignore:Item.* using the `ReadOnly` qualifier:UserWarning",
    "ignore:Accessing the 'model_.*' attribute on the instance is deprecated:DeprecationWarning",
)
MODELS = {"chat": "openai/gpt-test", "messages": "anthropic/claude-test"}
models = pytest.mark.parametrize("api", MODELS, ids=["openai", "anthropic"])


@pytest.fixture
def aiohttp_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs requested through aiohttp (the kit answers them underneath)."""
    seen: list[str] = []
    original = aiohttp.ClientSession._request

    async def spy(self: Any, method: str, url: Any, **kwargs: Any) -> Any:
        seen.append(str(url))
        return await original(self, method, url, **kwargs)

    monkeypatch.setattr(aiohttp.ClientSession, "_request", spy)
    return seen


def script_tool_loop(fake: FakeLLM) -> None:
    fake.script(
        fake.tool_call("create_task", title="Write tests"),
        fake.reply("I created the task."),
    )


def assert_tool_loop(fake: FakeLLM, api: str) -> None:
    assert [c.api for c in fake.calls] == [api, api]
    assert fake.calls[0].tool_names == ["create_task"]
    assert fake.calls[0].last_user_message == PROMPT
    assert json.loads(fake.calls[1].tool_result("create_task")) == json.loads(RESULT)


def follow_up(messages: list[Any], answer: Any) -> list[Any]:
    """The conversation after running the tool the model asked for."""
    message = answer.choices[0].message
    call = message.tool_calls[0]
    assert (call.function.name, json.loads(call.function.arguments)) == (
        "create_task",
        {"title": "Write tests"},
    )
    return [
        *messages,
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": RESULT},
    ]


async def astream(model: str, messages: list[Any]) -> Any:
    chunks = [c async for c in await litellm.acompletion(model, messages, tools=TOOLS, stream=True)]
    assert len(chunks) > 1
    return litellm.stream_chunk_builder(chunks, messages=messages)


def stream(model: str, messages: list[Any]) -> Any:
    chunks = list(litellm.completion(model, messages, tools=TOOLS, stream=True))
    assert len(chunks) > 1
    return litellm.stream_chunk_builder(chunks, messages=messages)


@models
async def test_litellm_async_tool_loop(fake_llm, aiohttp_requests, api):
    script_tool_loop(fake_llm)
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    first = await litellm.acompletion(MODELS[api], messages, tools=TOOLS)
    second = await litellm.acompletion(MODELS[api], follow_up(messages, first), tools=TOOLS)
    assert second.choices[0].message.content == "I created the task."
    assert_tool_loop(fake_llm, api)
    assert len(aiohttp_requests) == 2


@models
async def test_litellm_async_streamed_tool_call(fake_llm, aiohttp_requests, api):
    script_tool_loop(fake_llm)
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    first = await astream(MODELS[api], messages)
    second = await astream(MODELS[api], follow_up(messages, first))
    assert second.choices[0].message.content == "I created the task."
    assert all(call.stream for call in fake_llm.calls)
    assert_tool_loop(fake_llm, api)
    assert len(aiohttp_requests) == 2


@models
def test_litellm_sync_tool_loop(fake_llm, api):
    script_tool_loop(fake_llm)
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    first = litellm.completion(MODELS[api], messages, tools=TOOLS)
    second = litellm.completion(MODELS[api], follow_up(messages, first), tools=TOOLS)
    assert second.choices[0].message.content == "I created the task."
    assert_tool_loop(fake_llm, api)


@models
def test_litellm_sync_streamed_tool_call(fake_llm, api):
    script_tool_loop(fake_llm)
    messages: list[Any] = [{"role": "user", "content": PROMPT}]
    first = stream(MODELS[api], messages)
    second = stream(MODELS[api], follow_up(messages, first))
    assert second.choices[0].message.content == "I created the task."
    assert all(call.stream for call in fake_llm.calls)
    assert_tool_loop(fake_llm, api)


@models
async def test_litellm_async_429_then_success(fake_llm, api):
    fake_llm.script(fake_llm.rate_limited(retry_after=0.01), fake_llm.reply("Hello."))
    answer = await litellm.acompletion(
        MODELS[api], [{"role": "user", "content": PROMPT}], num_retries=1
    )
    assert answer.choices[0].message.content == "Hello."
    assert len(fake_llm.calls) == 2


async def test_litellm_async_scripted_fault_is_aiohttp_s_own(fake_llm):
    fake_llm.script(fake_llm.cut_stream(2))
    chunks = await litellm.acompletion(
        MODELS["chat"], [{"role": "user", "content": PROMPT}], stream=True
    )
    with pytest.raises(litellm.exceptions.MidStreamFallbackError) as raised:
        async for _ in chunks:
            pass
    assert aiohttp.ClientPayloadError in causes(raised.value)


def causes(error: BaseException | None) -> list[type[BaseException]]:
    found = []
    while error is not None:
        found.append(type(error))
        error = error.__cause__ or error.__context__
    return found
