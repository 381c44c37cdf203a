"""Every script item and fault, through every client kind, over both transports: a user's test module.

The kit's own tests copy this file (and clients.py) into a pytester directory and run it.
"""

import pytest
from clients import KINDS, MESSAGES, Failure, ask

from agent_testkit import FakeLLM

# every item as a wire shape, sent without the tools a real call offers: not checked against requests
pytestmark = [pytest.mark.parametrize("kind", KINDS), pytest.mark.fake_llm(checked=False)]
STREAM = pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])


@pytest.fixture(params=["in-process", "server"])
def fake(request: pytest.FixtureRequest) -> FakeLLM:
    name = "fake_llm" if request.param == "in-process" else "fake_llm_server"
    return request.getfixturevalue(name)


@STREAM
async def test_reply(fake, kind, stream):
    fake.script(fake.reply("Hello, world. How are you today?"))
    answer = await ask(kind, fake.base_url, stream=stream)
    assert answer.text == "Hello, world. How are you today?"
    assert answer.finish_reason == "stop"
    assert answer.tool_calls == []
    assert (
        answer.usage["total_tokens"]
        == answer.usage["prompt_tokens"] + answer.usage["completion_tokens"]
        > 0
    )
    if stream:
        assert len(answer.chunks) > 4  # role, word deltas, finish, usage
    call = fake.calls[0]
    assert call.messages == MESSAGES
    assert call.system_prompt == "You manage tasks."
    assert call.last_user_message == "Add a high-priority task"
    assert call.tool_names == ["create_task"]
    assert (call.model, call.stream) == ("gpt-test", stream)


@STREAM
async def test_tool_call(fake, kind, stream):
    fake.script(fake.tool_call("create_task", title="Write tests", priority="high"))
    answer = await ask(kind, fake.base_url, stream=stream)
    assert answer.tool_calls == [("create_task", {"title": "Write tests", "priority": "high"})]
    assert answer.finish_reason == "tool_calls"
    assert all(answer.tool_call_ids)


@STREAM
async def test_parallel_tool_calls(fake, kind, stream):
    fake.script(
        fake.tool_calls(
            [
                fake.tool_call("create_task", title="A rather long title to split in fragments"),
                fake.tool_call("create_project", name="Launch"),
                ("list_tasks", {}),
            ]
        )
    )
    answer = await ask(kind, fake.base_url, stream=stream)
    assert answer.tool_calls == [
        ("create_task", {"title": "A rather long title to split in fragments"}),
        ("create_project", {"name": "Launch"}),
        ("list_tasks", {}),
    ]
    assert len(set(answer.tool_call_ids)) == 3
    assert answer.finish_reason == "tool_calls"


@STREAM
async def test_respond_decides_from_the_request(fake, kind, stream):
    fake.script(fake.respond(lambda call: fake.reply(call.last_user_message.upper())))
    answer = await ask(kind, fake.base_url, stream=stream)
    assert answer.text == "ADD A HIGH-PRIORITY TASK"


async def test_rate_limited_then_success(fake, kind):
    fake.script(fake.rate_limited(retry_after=0.01), fake.reply("Done."))
    with pytest.raises(Failure) as failure:
        await ask(kind, fake.base_url)
    assert (failure.value.kind, failure.value.status) == ("status", 429)
    assert failure.value.headers["retry-after"] == "0.01"
    assert (await ask(kind, fake.base_url)).text == "Done."


async def test_server_error(fake, kind):
    fake.script(fake.server_error(status=503))
    with pytest.raises(Failure) as failure:
        await ask(kind, fake.base_url)
    assert (failure.value.kind, failure.value.status) == ("status", 503)


@STREAM
async def test_timeout(fake, kind, stream):
    fake.script(fake.timeout())
    with pytest.raises(Failure) as failure:
        await ask(kind, fake.base_url, stream=stream, read_timeout=0.1)
    assert failure.value.kind == "timeout"


@STREAM
async def test_disconnect(fake, kind, stream):
    fake.script(fake.disconnect())
    with pytest.raises(Failure) as failure:
        await ask(kind, fake.base_url, stream=stream)
    assert failure.value.kind == "connection"


@STREAM
async def test_cut_stream(fake, kind, stream):
    fake.script(fake.cut_stream(after=2))
    with pytest.raises(Failure) as failure:
        await ask(kind, fake.base_url, stream=stream)
    assert failure.value.kind == "connection"


async def test_malformed_sse(fake, kind):
    fake.script(fake.malformed_sse())
    with pytest.raises(Failure) as failure:
        await ask(kind, fake.base_url, stream=True)
    assert failure.value.kind == "malformed"


async def test_malformed(fake, kind):
    fake.script(fake.malformed())
    with pytest.raises(Failure) as failure:
        await ask(kind, fake.base_url)
    assert failure.value.kind == "malformed"


async def test_multi_turn_sequence(fake, kind):
    fake.script(
        fake.tool_call("create_task", title="Write tests"), fake.reply("I created the task.")
    )
    first = await ask(kind, fake.base_url)
    (name, _), call_id = first.tool_calls[0], first.tool_call_ids[0]
    history = [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": name, "arguments": '{"title": "Write tests"}'},
                }
            ],
        },
        {
            "role": "tool",
            "tool_call_id": call_id,
            "content": '{"id": "t1", "title": "Write tests"}',
        },
    ]
    second = await ask(kind, fake.base_url, messages=MESSAGES + history)
    assert second.text == "I created the task."
    assert fake.calls[1].tool_result("create_task") == '{"id": "t1", "title": "Write tests"}'
    assert fake.calls[1].tool_result(call_id) == fake.calls[1].tool_result("create_task")


async def test_sdk_default_client_retries_429_and_5xx(fake, kind):
    if kind != "openai-async":
        pytest.skip("once: the SDK's own client and retry")
    import openai

    fake.script(
        fake.rate_limited(retry_after=0.01),
        fake.server_error(retry_after=0.01),
        fake.reply("Third."),
    )
    client = openai.AsyncOpenAI(
        base_url=fake.base_url, api_key="sk-test", max_retries=2
    )  # untouched default
    async with client:
        completion = await client.chat.completions.create(model="gpt-test", messages=MESSAGES)
    assert completion.choices[0].message.content == "Third."
    assert len(fake.calls) == 3
