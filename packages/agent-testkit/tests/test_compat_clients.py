"""The real clients nobody here wrote, each with its default settings (no base URL, no key, no transport),
against one script: a text reply, a tool loop, a streamed tool call and a 429 then success.

Which wire format each speaks is asserted too (`calls[i].api`), so a client that changes its default is
noticed. Waits: every 429 asks for 0.01 s, which each SDK honours as asked.
"""

import json
from typing import Any

import anthropic
import openai
import pytest
from agents import Agent, Runner, flush_traces, function_tool
from langchain_anthropic import ChatAnthropic
from langchain_core.messages import HumanMessage, ToolMessage
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from pydantic_ai import Agent as PydanticAgent
from pydantic_ai.models.anthropic import AnthropicModel
from pydantic_ai.models.openai import OpenAIChatModel, OpenAIResponsesModel

from agent_testkit import FakeLLM

PROMPT = "Add a task called Write tests"
RESULT = '{"id": "t1", "title": "Write tests"}'


def create_task_result(title: str) -> str:
    return json.dumps({"id": "t1", "title": title})


def script_tool_loop(fake: FakeLLM, *, delay: float = 0.0) -> None:
    fake.script(
        fake.tool_call("create_task", chunk_delay=delay, title="Write tests"),
        fake.reply("I created the task.", chunk_delay=delay),
    )


def assert_tool_loop(fake: FakeLLM, api: str) -> None:
    assert [c.api for c in fake.calls] == [api, api]
    assert fake.calls[0].tool_names == ["create_task"]
    assert fake.calls[0].last_user_message == PROMPT
    assert json.loads(fake.calls[1].tool_result("create_task")) == json.loads(RESULT)


# -- openai SDK: chat completions and responses, default client ----------------------------------------------

OPENAI_CHAT_TOOLS: Any = [
    {
        "type": "function",
        "function": {
            "name": "create_task",
            "parameters": {"type": "object", "properties": {"title": {"type": "string"}}},
        },
    }
]
RESPONSES_TOOLS: Any = [{"type": "function", **OPENAI_CHAT_TOOLS[0]["function"]}]


async def test_openai_chat_reply(fake_llm):
    fake_llm.script(fake_llm.reply("Hello."))
    completion = await openai.AsyncOpenAI().chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": PROMPT}]
    )
    assert completion.choices[0].message.content == "Hello."
    assert fake_llm.calls[0].api == "chat"


async def test_openai_chat_tool_loop(fake_llm):
    script_tool_loop(fake_llm)
    client = openai.AsyncOpenAI()
    messages: Any = [{"role": "user", "content": PROMPT}]
    first = await client.chat.completions.create(
        model="gpt-test", messages=messages, tools=OPENAI_CHAT_TOOLS
    )
    message = first.choices[0].message
    call = message.tool_calls[0]  # type: ignore[index]
    messages += [
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": RESULT},
    ]
    second = await client.chat.completions.create(model="gpt-test", messages=messages)
    assert second.choices[0].message.content == "I created the task."
    assert_tool_loop(fake_llm, "chat")


async def test_openai_chat_streamed_tool_call(fake_llm):
    fake_llm.script(fake_llm.tool_call("create_task", title="Write tests"))
    client = openai.AsyncOpenAI()
    async with client.chat.completions.stream(
        model="gpt-test", messages=[{"role": "user", "content": PROMPT}], tools=OPENAI_CHAT_TOOLS
    ) as stream:
        final = await stream.get_final_completion()
    call = final.choices[0].message.tool_calls[0]  # type: ignore[index]
    assert (call.function.name, json.loads(call.function.arguments)) == (  # type: ignore[union-attr]
        "create_task",
        {"title": "Write tests"},
    )


async def test_openai_chat_429_then_success(fake_llm):
    fake_llm.script(fake_llm.rate_limited(retry_after=0.01), fake_llm.reply("Hello."))
    completion = await openai.AsyncOpenAI().chat.completions.create(
        model="gpt-test", messages=[{"role": "user", "content": PROMPT}]
    )
    assert completion.choices[0].message.content == "Hello."
    assert len(fake_llm.calls) == 2


async def test_openai_responses_reply(fake_llm):
    fake_llm.script(fake_llm.reply("Hello."))
    response = await openai.AsyncOpenAI().responses.create(model="gpt-test", input=PROMPT)
    assert response.output_text == "Hello."
    assert fake_llm.calls[0].api == "responses"


async def test_openai_responses_tool_loop(fake_llm):
    script_tool_loop(fake_llm)
    client = openai.AsyncOpenAI()
    first = await client.responses.create(model="gpt-test", input=PROMPT, tools=RESPONSES_TOOLS)
    call = first.output[0]
    assert call.type == "function_call"
    second = await client.responses.create(
        model="gpt-test",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": RESULT}],
    )
    assert second.output_text == "I created the task."
    assert_tool_loop(fake_llm, "responses")


async def test_openai_responses_streamed_tool_call(fake_llm):
    fake_llm.script(fake_llm.tool_call("create_task", title="Write tests"))
    client = openai.AsyncOpenAI()
    async with client.responses.stream(
        model="gpt-test", input=PROMPT, tools=RESPONSES_TOOLS
    ) as stream:
        final = await stream.get_final_response()
    call = final.output[0]
    assert call.type == "function_call" and json.loads(call.arguments) == {"title": "Write tests"}


async def test_openai_responses_429_then_success(fake_llm):
    fake_llm.script(fake_llm.rate_limited(retry_after=0.01), fake_llm.reply("Hello."))
    response = await openai.AsyncOpenAI().responses.create(model="gpt-test", input=PROMPT)
    assert response.output_text == "Hello."
    assert len(fake_llm.calls) == 2


# -- anthropic SDK, default client ---------------------------------------------------------------------------

ANTHROPIC_TOOLS: Any = [
    {
        "name": "create_task",
        "input_schema": {"type": "object", "properties": {"title": {"type": "string"}}},
    }
]


async def test_anthropic_reply(fake_llm):
    fake_llm.script(fake_llm.reply("Hello."))
    message = await anthropic.AsyncAnthropic().messages.create(
        model="claude-test", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
    )
    assert message.content[0].text == "Hello."  # type: ignore[union-attr]
    assert fake_llm.calls[0].api == "messages"


async def test_anthropic_tool_loop(fake_llm):
    script_tool_loop(fake_llm)
    client = anthropic.AsyncAnthropic()
    messages: Any = [{"role": "user", "content": PROMPT}]
    first = await client.messages.create(
        model="claude-test", max_tokens=64, messages=messages, tools=ANTHROPIC_TOOLS
    )
    use = first.content[0]
    assert use.type == "tool_use"
    messages += [
        {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": use.id, "content": RESULT}],
        },
    ]
    second = await client.messages.create(model="claude-test", max_tokens=64, messages=messages)
    assert second.content[0].text == "I created the task."  # type: ignore[union-attr]
    assert_tool_loop(fake_llm, "messages")


async def test_anthropic_streamed_tool_call(fake_llm):
    fake_llm.script(fake_llm.tool_call("create_task", title="Write tests"))
    async with anthropic.AsyncAnthropic().messages.stream(
        model="claude-test",
        max_tokens=64,
        messages=[{"role": "user", "content": PROMPT}],
        tools=ANTHROPIC_TOOLS,
    ) as stream:
        final = await stream.get_final_message()
    use = final.content[0]
    assert use.type == "tool_use" and use.input == {"title": "Write tests"}


async def test_anthropic_429_then_success(fake_llm):
    fake_llm.script(fake_llm.rate_limited(retry_after=0.01), fake_llm.reply("Hello."))
    message = await anthropic.AsyncAnthropic().messages.create(
        model="claude-test", max_tokens=64, messages=[{"role": "user", "content": PROMPT}]
    )
    assert message.content[0].text == "Hello."  # type: ignore[union-attr]
    assert len(fake_llm.calls) == 2


# -- openai-agents: the default Agent (Responses API, default client) ----------------------------------------


@function_tool
def create_task(title: str) -> str:
    """Create a task."""
    return create_task_result(title)


def tasks_agent() -> Agent:
    return Agent(name="Tasks", instructions="You manage tasks.", tools=[create_task])


async def test_openai_agents_reply(fake_llm):
    fake_llm.script(fake_llm.reply("Hello."))
    result = await Runner.run(Agent(name="Hi", instructions="Be brief."), PROMPT)
    assert result.final_output == "Hello."
    assert fake_llm.calls[0].api == "responses"
    assert fake_llm.calls[0].system_prompt == "Be brief."
    flush_traces()
    assert fake_llm.telemetry  # the trace export, accepted quietly
    assert {path for path, _ in fake_llm.telemetry} == {"/v1/traces/ingest"}


async def test_openai_agents_tool_loop(fake_llm):
    script_tool_loop(fake_llm)
    result = await Runner.run(tasks_agent(), PROMPT)
    assert result.final_output == "I created the task."
    assert_tool_loop(fake_llm, "responses")


async def test_openai_agents_streamed_tool_call(fake_llm):
    script_tool_loop(fake_llm)
    result = Runner.run_streamed(tasks_agent(), PROMPT)
    kinds = [event.type async for event in result.stream_events()]
    assert result.final_output == "I created the task."
    assert "raw_response_event" in kinds and "run_item_stream_event" in kinds
    assert all(call.stream for call in fake_llm.calls)
    assert_tool_loop(fake_llm, "responses")


async def test_openai_agents_429_then_success(fake_llm):
    fake_llm.script(fake_llm.rate_limited(retry_after=0.01), fake_llm.reply("Hello."))
    result = await Runner.run(Agent(name="Hi"), PROMPT)
    assert result.final_output == "Hello."
    assert len(fake_llm.calls) == 2


# -- pydantic-ai: OpenAIChatModel, OpenAIResponsesModel, AnthropicModel (default providers) -------------------

PYDANTIC_MODELS = {
    "chat": lambda: OpenAIChatModel("gpt-test"),
    "responses": lambda: OpenAIResponsesModel("gpt-test"),
    "messages": lambda: AnthropicModel("claude-test"),
}
pydantic_models = pytest.mark.parametrize(
    "api", PYDANTIC_MODELS, ids=["OpenAIChatModel", "OpenAIResponsesModel", "AnthropicModel"]
)


def pydantic_agent(api: str) -> PydanticAgent[None, str]:
    agent = PydanticAgent(PYDANTIC_MODELS[api](), instructions="You manage tasks.")

    @agent.tool_plain
    def create_task(title: str) -> str:
        """Create a task."""
        return create_task_result(title)

    return agent


@pydantic_models
async def test_pydantic_ai_reply(fake_llm, api):
    fake_llm.script(fake_llm.reply("Hello."))
    result = await pydantic_agent(api).run(PROMPT)
    assert result.output == "Hello."
    assert fake_llm.calls[0].api == api
    assert fake_llm.calls[0].system_prompt == "You manage tasks."


@pydantic_models
async def test_pydantic_ai_tool_loop(fake_llm, api):
    script_tool_loop(fake_llm)
    result = await pydantic_agent(api).run(PROMPT)
    assert result.output == "I created the task."
    assert_tool_loop(fake_llm, api)


@pydantic_models
async def test_pydantic_ai_streamed_tool_call(fake_llm, api):
    script_tool_loop(fake_llm)
    async with pydantic_agent(api).run_stream(PROMPT) as result:
        output = await result.get_output()
    assert output == "I created the task."
    assert all(call.stream for call in fake_llm.calls)
    assert_tool_loop(fake_llm, api)


@pydantic_models
async def test_pydantic_ai_429_then_success(fake_llm, api):
    fake_llm.script(fake_llm.rate_limited(retry_after=0.01), fake_llm.reply("Hello."))
    result = await pydantic_agent(api).run(PROMPT)
    assert result.output == "Hello."
    assert len(fake_llm.calls) == 2


# -- LangChain: ChatOpenAI (chat and use_responses_api=True), ChatAnthropic -----------------------------------

LANGCHAIN_MODELS = {
    "chat": lambda: ChatOpenAI(model="gpt-test"),
    "responses": lambda: ChatOpenAI(model="gpt-test", use_responses_api=True),
    "messages": lambda: ChatAnthropic(model_name="claude-test"),  # type: ignore[call-arg]
}
langchain_models = pytest.mark.parametrize(
    "api", LANGCHAIN_MODELS, ids=["ChatOpenAI", "ChatOpenAI-responses", "ChatAnthropic"]
)


@tool
def create_task_tool(title: str) -> str:
    """Create a task."""
    return create_task_result(title)


create_task_tool.name = "create_task"


async def langchain_tool_loop(api: str, *, stream: bool) -> str:
    model = LANGCHAIN_MODELS[api]().bind_tools([create_task_tool])
    messages: list[Any] = [HumanMessage(PROMPT)]
    for _ in range(3):
        if stream:
            answer: Any = None
            async for chunk in model.astream(messages):
                answer = chunk if answer is None else answer + chunk
        else:
            answer = await model.ainvoke(messages)
        messages.append(answer)
        if not answer.tool_calls:
            return str(answer.text)
        for call in answer.tool_calls:
            result = create_task_tool.invoke(call["args"])
            messages.append(ToolMessage(result, tool_call_id=call["id"]))
    raise AssertionError("the tool loop did not end")


@langchain_models
async def test_langchain_reply(fake_llm, api):
    fake_llm.script(fake_llm.reply("Hello."))
    answer = await LANGCHAIN_MODELS[api]().ainvoke(PROMPT)
    assert answer.text == "Hello."
    assert fake_llm.calls[0].api == api


@langchain_models
async def test_langchain_tool_loop(fake_llm, api):
    script_tool_loop(fake_llm)
    assert await langchain_tool_loop(api, stream=False) == "I created the task."
    assert_tool_loop(fake_llm, api)


@langchain_models
async def test_langchain_streamed_tool_call(fake_llm, api):
    script_tool_loop(fake_llm)
    assert await langchain_tool_loop(api, stream=True) == "I created the task."
    assert all(call.stream for call in fake_llm.calls)
    assert_tool_loop(fake_llm, api)


@langchain_models
async def test_langchain_429_then_success(fake_llm, api):
    fake_llm.script(fake_llm.rate_limited(retry_after=0.01), fake_llm.reply("Hello."))
    answer = await LANGCHAIN_MODELS[api]().ainvoke(PROMPT)
    assert answer.text == "Hello."
    assert len(fake_llm.calls) == 2
