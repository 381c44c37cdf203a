"""`POST /v1/responses`: bodies and events checked against OpenAI's spec, and read by the openai SDK
(its default client, at its default base URL: no configuration)."""

import json
from pathlib import Path

import httpx
import jsonschema
import openai
import pytest

from agent_testkit import FakeLLM, parse_sse

# wire shapes, sent without the tools a real call offers: the script is not checked against requests
pytestmark = pytest.mark.fake_llm(checked=False)


def honour_nullable(node: object) -> object:
    """Parts of the spec still say OpenAPI 3.0's `nullable: true`; JSON Schema spells it as a null type."""
    if isinstance(node, list):
        return [honour_nullable(n) for n in node]
    if not isinstance(node, dict):
        return node
    node = {k: honour_nullable(v) for k, v in node.items()}
    if not node.pop("nullable", False):
        return node
    if "$ref" in node:
        return {"anyOf": [{"$ref": node.pop("$ref")}, {"type": "null"}], **node}
    node["type"] = [node["type"], "null"]
    if "enum" in node:
        node["enum"] = [*node["enum"], None]
    return node


SPEC = honour_nullable(
    json.loads((Path(__file__).parent / "fixtures" / "openai_responses_schemas.json").read_text())
)
URL = "https://api.openai.com/v1/responses"
TOOLS = [
    {
        "type": "function",
        "name": "create_task",
        "description": "Create a task",
        "parameters": {"type": "object", "properties": {"title": {"type": "string"}}},
        "strict": False,
    }
]
ANSWERS = {
    "reply": FakeLLM.reply("Hello there, how can I help?"),
    "tool_call": FakeLLM.tool_call("create_task", title="Write tests", priority="high"),
    "parallel": FakeLLM.tool_calls(
        [FakeLLM.tool_call("a", x=12345678), FakeLLM.tool_call("b", text="a longer value")],
        content="Both.",
    ),
}


def validate(body: object, schema_name: str) -> None:
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": SPEC["components"]}
    jsonschema.Draft202012Validator(schema).validate(body)


EVENT_SCHEMAS = {
    "response.created": "ResponseCreatedEvent",
    "response.in_progress": "ResponseInProgressEvent",
    "response.output_item.added": "ResponseOutputItemAddedEvent",
    "response.content_part.added": "ResponseContentPartAddedEvent",
    "response.output_text.delta": "ResponseTextDeltaEvent",
    "response.output_text.done": "ResponseTextDoneEvent",
    "response.content_part.done": "ResponseContentPartDoneEvent",
    "response.output_item.done": "ResponseOutputItemDoneEvent",
    "response.function_call_arguments.delta": "ResponseFunctionCallArgumentsDeltaEvent",
    "response.function_call_arguments.done": "ResponseFunctionCallArgumentsDoneEvent",
    "response.completed": "ResponseCompletedEvent",
}


@pytest.fixture
async def http(fake_llm: FakeLLM):
    async with httpx.AsyncClient() as client:
        yield client


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
async def test_json_body_matches_the_spec(fake_llm, http, answer):
    fake_llm.script(answer)
    r = await http.post(URL, json={"model": "gpt-test", "input": "Hi", "tools": TOOLS})
    body = r.json()
    validate(body, "Response")
    assert body["status"] == "completed" and body["usage"]["total_tokens"] > 0


@pytest.mark.parametrize("answer", ANSWERS.values(), ids=ANSWERS.keys())
async def test_stream_events_match_the_spec(fake_llm, http, answer):
    fake_llm.script(answer)
    r = await http.post(URL, json={"model": "gpt-test", "input": "Hi", "stream": True})
    events = parse_sse(r.text)
    for event in events:
        validate(event.json(), EVENT_SCHEMAS[event.event])
        assert event.json()["type"] == event.event
    assert [e.json()["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0].event == "response.created" and events[-1].event == "response.completed"
    assert events[-1].json()["response"]["usage"]["output_tokens"] > 0


async def test_errors_match_the_spec(fake_llm, http):
    fake_llm.script(fake_llm.rate_limited(), fake_llm.server_error(502))
    for status in (429, 502):
        r = await http.post(URL, json={"model": "gpt-test", "input": "Hi"})
        assert r.status_code == status
        validate(r.json(), "ErrorResponse")


async def test_the_sdk_reads_a_reply(fake_llm):
    fake_llm.script(fake_llm.reply("Hello from the fake."))
    response = await openai.AsyncOpenAI().responses.create(model="gpt-test", input="Hi")
    assert response.output_text == "Hello from the fake."
    assert response.usage is not None and response.usage.input_tokens > 0
    call = fake_llm.calls[0]
    assert (call.api, call.last_user_message, call.messages) == (
        "responses",
        "Hi",
        [{"role": "user", "content": "Hi"}],
    )


async def test_the_sdk_stream_helper_accumulates_parallel_calls(fake_llm):
    fake_llm.script(ANSWERS["parallel"])
    client = openai.AsyncOpenAI()
    async with client.responses.stream(model="gpt-test", input="Hi", tools=TOOLS) as stream:
        deltas = [
            e.delta async for e in stream if e.type == "response.function_call_arguments.delta"
        ]
        final = await stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert [(c.name, json.loads(c.arguments)) for c in calls] == [
        ("a", {"x": 12345678}),
        ("b", {"text": "a longer value"}),
    ]
    assert len({c.call_id for c in calls}) == 2 and len(deltas) > 2
    assert final.output_text == "Both."
    assert fake_llm.calls[0].tool_names == ["create_task"]


async def test_raw_stream_events_through_the_sdk(fake_llm):
    fake_llm.script(fake_llm.reply("One two three."))
    stream = await openai.AsyncOpenAI().responses.create(model="gpt-test", input="Hi", stream=True)
    events = [event async for event in stream]
    text = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert text == "One two three."
    assert events[-1].type == "response.completed"


async def test_items_input_and_function_call_output_read_back(fake_llm):
    fake_llm.script(fake_llm.tool_call("create_task", title="Write tests"), fake_llm.reply("Done."))
    client = openai.AsyncOpenAI()
    first = await client.responses.create(
        model="gpt-test",
        instructions="You manage tasks.",
        input=[{"role": "user", "content": [{"type": "input_text", "text": "Add a task"}]}],
        tools=TOOLS,  # type: ignore[arg-type]
    )
    call = first.output[0]
    assert call.type == "function_call"
    output = {"type": "function_call_output", "call_id": call.call_id, "output": '{"id": "t1"}'}
    second = await client.responses.create(
        model="gpt-test",
        instructions="You manage tasks.",
        input=[
            {"role": "user", "content": "Add a task"},
            call.model_dump(exclude_none=True),
            output,
        ],  # type: ignore[list-item]
    )
    assert second.output_text == "Done."
    recorded = fake_llm.calls[1]
    assert recorded.system_prompt == "You manage tasks."
    assert recorded.tool_result("create_task") == '{"id": "t1"}'
    assert recorded.tool_result(call.call_id) == '{"id": "t1"}'
    assert fake_llm.calls[0].last_user_message == "Add a task"


async def test_previous_response_id_carries_the_stored_conversation(fake_llm):
    fake_llm.script(fake_llm.tool_call("create_task", title="T"), fake_llm.reply("Created."))
    client = openai.AsyncOpenAI()
    first = await client.responses.create(model="gpt-test", input="Add T", tools=TOOLS)  # type: ignore[arg-type]
    call_id = first.output[0].call_id  # type: ignore[union-attr]
    second = await client.responses.create(
        model="gpt-test",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call_id, "output": "ok"}],
    )
    assert second.output_text == "Created."
    messages = fake_llm.calls[1].messages
    assert [m["role"] for m in messages] == ["user", "assistant", "tool"]
    assert fake_llm.calls[1].tool_result("create_task") == "ok"
    assert fake_llm.calls[1].last_user_message == "Add T"
    stored = await client.responses.retrieve(second.id)
    assert stored.output_text == "Created."


async def test_previous_response_id_does_not_carry_the_old_instructions(fake_llm):
    fake_llm.script(fake_llm.reply("First."), fake_llm.reply("Second."), fake_llm.reply("Third."))
    client = openai.AsyncOpenAI()
    first = await client.responses.create(model="gpt-test", instructions="Be terse.", input="Hi")
    second = await client.responses.create(
        model="gpt-test", previous_response_id=first.id, input="Again"
    )
    await client.responses.create(
        model="gpt-test", instructions="Be kind.", previous_response_id=second.id, input="More"
    )
    # OpenAI: "the instructions from a previous response will not be carried over to the next response"
    assert fake_llm.calls[1].system_prompt is None
    assert [m["role"] for m in fake_llm.calls[1].messages] == ["user", "assistant", "user"]
    assert fake_llm.calls[2].system_prompt == "Be kind."
    roles = [m["role"] for m in fake_llm.calls[2].messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]


async def test_unknown_or_unstored_previous_response_is_a_400(fake_llm):
    fake_llm.script(fake_llm.reply("Not kept."))
    client = openai.AsyncOpenAI()
    unstored = await client.responses.create(model="gpt-test", input="Hi", store=False)
    with pytest.raises(openai.BadRequestError) as error:
        await client.responses.create(
            model="gpt-test", input="Again", previous_response_id=unstored.id
        )
    assert error.value.code == "previous_response_not_found"
    assert len(fake_llm.calls) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["json", "sse"])
async def test_rate_limited_then_success_through_the_sdk(fake_llm, stream):
    fake_llm.script(fake_llm.rate_limited(retry_after_ms=1), fake_llm.reply("After the wait."))
    client = openai.AsyncOpenAI(max_retries=1)
    if stream:
        events = await client.responses.create(model="gpt-test", input="Hi", stream=True)
        text = "".join([e.delta async for e in events if e.type == "response.output_text.delta"])
    else:
        text = (await client.responses.create(model="gpt-test", input="Hi")).output_text
    assert text == "After the wait."
    assert len(fake_llm.calls) == 2


@pytest.mark.parametrize(
    ("item", "error"),
    [
        (FakeLLM.server_error(503), openai.InternalServerError),
        (FakeLLM.disconnect(), openai.APIConnectionError),
        (FakeLLM.malformed("not json"), json.JSONDecodeError),  # the SDK does not wrap it
    ],
    ids=["server_error", "disconnect", "malformed"],
)
async def test_faults_as_for_chat_completions(fake_llm, item, error):
    fake_llm.script(item)
    with pytest.raises(error):
        await openai.AsyncOpenAI(max_retries=0).responses.create(model="gpt-test", input="Hi")


async def test_cut_and_malformed_streams(fake_llm):
    fake_llm.script(fake_llm.cut_stream(after=3), fake_llm.malformed_sse())
    client = openai.AsyncOpenAI(max_retries=0)
    for expected in (openai.APIConnectionError, json.JSONDecodeError):
        events = await client.responses.create(model="gpt-test", input="Hi", stream=True)
        with pytest.raises(expected):
            _ = [event async for event in events]
