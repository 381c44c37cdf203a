"""More real clients on their defaults (no base URL, no key): a langgraph tool graph, instructor's
structured output (a tool call it validates with pydantic) and google-genai, each with a tool round trip
and a stream. See test_compat_clients.py for the SDKs and the other frameworks."""

import json

import instructor
import openai
import pytest
from google import genai
from google.genai import types
from langchain_core.messages import AIMessageChunk
from langchain_core.tools import tool
from langchain_openai import ChatOpenAI
from langgraph.graph import START, MessagesState, StateGraph
from langgraph.prebuilt import ToolNode, tools_condition
from pydantic import BaseModel

from agent_testkit import FakeLLM

pytestmark = pytest.mark.filterwarnings(
    # google-genai's async client subclasses aiohttp's ClientSession, which aiohttp warns about
    "ignore:Inheritance class AiohttpClientSession:DeprecationWarning"
)
PROMPT = "Add a task called Write tests"


def script_tool_loop(fake: FakeLLM) -> None:
    fake.script(
        fake.tool_call("create_task", title="Write tests"), fake.reply("I created the task.")
    )


def assert_tool_loop(fake: FakeLLM, api: str) -> None:
    assert [c.api for c in fake.calls] == [api, api]
    assert fake.calls[0].tool_names == ["create_task"]
    assert fake.calls[0].last_user_message == PROMPT
    assert "Write tests" in fake.calls[1].tool_result("create_task")


# -- langgraph: a model node and a ToolNode, ChatOpenAI on its defaults -----------------------------------


@tool
def create_task(title: str) -> str:
    """Create a task."""
    return json.dumps({"id": "t1", "title": title})


def task_graph():  # type: ignore[no-untyped-def]
    model = ChatOpenAI(model="gpt-test").bind_tools([create_task])

    async def call_model(state: MessagesState) -> dict[str, list]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", call_model)
    graph.add_node("tools", ToolNode([create_task]))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    return graph.compile()


async def test_langgraph_tool_round_trip(fake_llm):
    script_tool_loop(fake_llm)
    state = await task_graph().ainvoke({"messages": [("user", PROMPT)]})
    assert state["messages"][-1].content == "I created the task."
    assert_tool_loop(fake_llm, "chat")


async def test_langgraph_streamed_tokens(fake_llm):
    script_tool_loop(fake_llm)
    tokens = []
    async for message, _ in task_graph().astream(
        {"messages": [("user", PROMPT)]}, stream_mode="messages"
    ):
        if isinstance(message, AIMessageChunk) and message.content:
            tokens.append(message.content)
    assert tokens == ["I ", "created ", "the ", "task."]
    assert_tool_loop(fake_llm, "chat")


# -- instructor: a pydantic model as a tool, validated -------------------------------------------------


class Task(BaseModel):
    title: str
    priority: int


async def test_instructor_structured_output_is_a_checked_tool_call(fake_llm):
    fake_llm.script(fake_llm.tool_call("Task", title="Write tests", priority=1))
    client = instructor.from_openai(openai.AsyncOpenAI())
    task = await client.chat.completions.create(
        model="gpt-test", response_model=Task, messages=[{"role": "user", "content": PROMPT}]
    )
    assert task.model_dump() == {"title": "Write tests", "priority": 1}
    assert fake_llm.calls[0].tool_names == ["Task"]


async def test_instructor_retries_a_deliberately_invalid_answer(fake_llm):
    fake_llm.script(
        fake_llm.tool_call("Task", unchecked=True, title="Write tests", priority="high"),
        fake_llm.tool_call("Task", title="Write tests", priority=1),
    )
    client = instructor.from_openai(openai.AsyncOpenAI())
    task = await client.chat.completions.create(
        model="gpt-test",
        response_model=Task,
        max_retries=1,
        messages=[{"role": "user", "content": PROMPT}],
    )
    assert task.priority == 1
    assert "priority" in (fake_llm.calls[1].tool_result(fake_llm.calls[0].tool_names[0]) or "")


async def test_instructor_streams_partial_objects(fake_llm):
    # instructor offers the model "PartialTask" here: the checked script said so when it read "Task"
    fake_llm.script(fake_llm.tool_call("PartialTask", title="Write tests", priority=1))
    client = instructor.from_openai(openai.AsyncOpenAI())
    partials = [
        partial
        async for partial in client.chat.completions.create_partial(
            model="gpt-test", response_model=Task, messages=[{"role": "user", "content": PROMPT}]
        )
    ]
    assert partials[-1].title == "Write tests" and partials[-1].priority == 1
    assert len(partials) > 1 and fake_llm.calls[0].stream


# -- google-genai: automatic function calling, and a stream ------------------------------------------------


def create_task_function(title: str) -> str:
    """Create a task."""
    return json.dumps({"id": "t1", "title": title})


create_task_function.__name__ = "create_task"


def test_google_genai_tool_round_trip(fake_llm):
    script_tool_loop(fake_llm)
    client = genai.Client()
    config = types.GenerateContentConfig(tools=[create_task_function])
    answer = client.models.generate_content(model="gemini-test", contents=PROMPT, config=config)
    assert answer.text == "I created the task."
    assert_tool_loop(fake_llm, "gemini")


async def test_google_genai_streamed_tool_round_trip(fake_llm):
    script_tool_loop(fake_llm)
    client = genai.Client()
    config = types.GenerateContentConfig(tools=[create_task_function])
    stream = await client.aio.models.generate_content_stream(
        model="gemini-test", contents=PROMPT, config=config
    )
    texts = [chunk.text async for chunk in stream if chunk.text]
    assert "".join(texts) == "I created the task."
    assert all(call.stream for call in fake_llm.calls)
    assert_tool_loop(fake_llm, "gemini")
