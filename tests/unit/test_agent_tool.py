"""A toolbox answers every call with a result the model can read: unknown names, arguments that do
not validate and a domain rule a tool hits come back as errors that say what to do."""

from __future__ import annotations

import json
import uuid

import pytest
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.agents.tool import JSONObject, Tool, Toolbox, ToolContext, emphasized
from agent_service.errors import NotFound
from agent_service.llm.messages import ToolCallRequest


class NoteArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    count: int = 1


class NoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")


async def note(context: ToolContext, args: NoteArgs) -> JSONObject:
    return {"title": args.title, "count": args.count, "user_id": context.user_id}


async def find_nothing(context: ToolContext, args: NoArgs) -> JSONObject:
    raise NotFound("Task 't1' was not found: list the tasks to see their ids.")


# Not transactional: these tools touch no database, so the session is never used.
NOTE = Tool("note", "Takes a note.", NoteArgs, note, transactional=False)
FIND = Tool("find", "Finds nothing.", NoArgs, find_nothing, transactional=False)
WIPE = Tool("wipe", "Wipes.", NoArgs, find_nothing, transactional=False, requires_approval=True)
USER_ID = uuid.uuid4()


def toolbox(*tools: Tool) -> Toolbox:
    return Toolbox(tools, ToolContext(AsyncSession(), USER_ID))


async def call(box: Toolbox, name: str, arguments: str) -> tuple[bool, dict]:
    outcome = await box.call(ToolCallRequest("call-1", name, arguments))
    assert outcome.as_message().tool_call_id == "call-1"
    return outcome.is_error, json.loads(outcome.content)


async def test_a_result_is_the_tools_json_for_the_model() -> None:
    is_error, content = await call(toolbox(NOTE), "note", ' {"title": "milk", "count": 2} ')
    assert not is_error
    assert content == {"title": "milk", "count": 2, "user_id": str(USER_ID)}


async def test_an_unknown_tool_names_the_available_ones() -> None:
    is_error, content = await call(toolbox(WIPE, NOTE, FIND), "delete_everything", "{}")
    assert is_error and content["error"] == "unknown_tool"
    assert content["detail"] == (
        "There is no tool named 'delete_everything'. Available tools: find, note, wipe."
    )
    _, content = await call(toolbox(), "note", "{}")
    assert content["detail"] == "There is no tool named 'note'. Available tools: none."


async def test_arguments_that_are_not_json_say_so() -> None:
    is_error, content = await call(toolbox(NOTE), "note", '{"title": ')
    assert is_error and content["error"] == "invalid_arguments"
    assert content["detail"] == """The arguments of 'note' are not valid JSON: '{"title": '."""


async def test_invalid_arguments_name_each_field_and_the_first_in_the_detail() -> None:
    is_error, content = await call(toolbox(NOTE), "note", '{"count": "many", "colour": "red"}')
    assert is_error and content["error"] == "invalid_arguments"
    assert [e["field"] for e in content["errors"]] == ["title", "count", "colour"]
    assert content["detail"] == "Invalid arguments for 'note': 'title': Field required."


@pytest.mark.parametrize("arguments", ['["milk"]', '"milk"'])
async def test_arguments_that_are_not_an_object_are_about_the_arguments(arguments: str) -> None:
    _, content = await call(toolbox(NOTE), "note", arguments)
    [error] = content["errors"]
    assert error["field"] == "arguments"
    assert content["detail"].startswith("Invalid arguments for 'note': 'arguments': ")


async def test_no_arguments_at_all_are_an_empty_object() -> None:
    _, content = await call(toolbox(NOTE), "note", "  ")
    assert content["detail"] == "Invalid arguments for 'note': 'title': Field required."


async def test_a_domain_rule_a_tool_hits_is_its_code_and_message() -> None:
    is_error, content = await call(toolbox(FIND), "find", "")
    assert is_error
    assert content == {
        "error": "not_found",
        "detail": "Task 't1' was not found: list the tasks to see their ids.",
    }


def test_only_a_destructive_tool_waits_for_approval() -> None:
    box = toolbox(NOTE, WIPE)
    assert box.requires_approval(ToolCallRequest("c1", "wipe", "{}"))
    assert not box.requires_approval(ToolCallRequest("c2", "note", "{}"))
    assert not box.requires_approval(ToolCallRequest("c3", "no_such_tool", "{}"))


async def describe_note(args: NoteArgs, context: ToolContext) -> str:
    return f"Note *{args.title}* {args.count} time(s)?"


async def describe_badly(args: NoArgs, context: ToolContext) -> str:
    raise NotFound("Task 't1' was not found.")


async def test_a_call_is_described_in_words_by_its_tool_or_not_at_all() -> None:
    described = Tool("note", "Takes a note.", NoteArgs, note, describe=describe_note)
    failing = Tool("find", "Finds.", NoArgs, find_nothing, describe=describe_badly)
    box = toolbox(described, failing, WIPE)
    words = await box.describe(ToolCallRequest("c1", "note", '{"title": "milk", "count": 2}'))
    assert words == "Note *milk* 2 time(s)?"
    assert await box.describe(ToolCallRequest("c2", "find", "{}")) is None  # it raised
    assert await box.describe(ToolCallRequest("c3", "wipe", "{}")) is None  # it has none
    assert await box.describe(ToolCallRequest("c4", "note", "{not json")) is None
    assert await box.describe(ToolCallRequest("c5", "nope", "{}")) is None


def test_a_title_is_emphasized_with_its_markdown_escaped() -> None:
    assert emphasized("Write  the *big*\nreport_v2") == r"*Write the \*big\* report\_v2*"
