"""Tools: typed async functions with a Pydantic model for their arguments.

A tool's failure is data for the model, never a 500: unknown names, arguments that do not validate
and exceptions raised inside a tool all come back as an error result the model can read and act on.
Each call runs in a savepoint, so a tool that fails half-way leaves nothing behind, while the
step's successful calls stay in the transaction the caller commits with the results.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.errors import AppError, database_unavailable
from agent_service.integrations.github.access import GitHubAccess
from agent_service.llm.messages import ChatMessage, ToolCallRequest, ToolSpec

logger = logging.getLogger("agent_service.agents.tools")

ArgsT = TypeVar("ArgsT", bound=BaseModel)
JSONObject = dict[str, Any]


@dataclass(frozen=True)
class ToolContext:
    """What a tool may use: the turn's session and the user it acts for (its only scope)."""

    session: AsyncSession
    user_id: uuid.UUID
    github: GitHubAccess | None = None  # the coder's GitHub reads; None where not configured
    # Undo records of what the tools changed ({"undo": kind, ...}), for a run rolled back.
    effects: list[JSONObject] = field(default_factory=list)


@dataclass(frozen=True)
class Tool(Generic[ArgsT]):
    """A tool the model may call: `fn(context, args)` returns a JSON object with ids."""

    name: str
    description: str
    args_model: type[ArgsT]
    fn: Callable[[ToolContext, ArgsT], Awaitable[JSONObject]]
    # False for tools that only call out (GitHub): no transaction is held open over the network.
    transactional: bool = True
    # True for destructive tools: the run pauses for the user's approval before calling it.
    requires_approval: bool = False
    # What a call will do, in words for the person asked to approve it ("Delete task *X*?").
    describe: Callable[[ArgsT, ToolContext], Awaitable[str]] | None = None

    @cached_property
    def spec(self) -> ToolSpec:
        """Built once: generating a JSON schema costs milliseconds, on every turn otherwise."""
        return ToolSpec(
            self.name, self.description, inline_refs(self.args_model.model_json_schema())
        )


@dataclass(frozen=True)
class ToolOutcome:
    """A call and its result: `content` is the JSON text the model reads back."""

    call: ToolCallRequest
    content: str
    is_error: bool = False

    def as_message(self) -> ChatMessage:
        return ChatMessage("tool", self.content, tool_call_id=self.call.id)


class Toolbox:
    """The tools of one agent type, bound to one user's context for one turn."""

    def __init__(self, tools: Sequence[Tool[Any]], context: ToolContext) -> None:
        self.tools = {tool.name: tool for tool in tools}
        self.context = context

    @property
    def specs(self) -> list[ToolSpec]:
        return [tool.spec for tool in self.tools.values()]

    def requires_approval(self, call: ToolCallRequest) -> bool:
        """A call waits for the user (or the client) only if its arguments are valid: invalid
        ones go back to the model as `invalid_arguments` at once (`call` answers them)."""
        tool = self.tools.get(call.name)
        if tool is None or not tool.requires_approval:
            return False
        try:
            tool.args_model.model_validate_json(call.arguments.strip() or "{}")
        except ValidationError:
            return False
        return True

    async def describe(self, call: ToolCallRequest) -> str | None:
        """The call in words, from its tool's `describe`; None when it has none or it fails
        (the approval card then shows the name and arguments)."""
        tool = self.tools.get(call.name)
        if tool is None or tool.describe is None:
            return None
        try:
            args = tool.args_model.model_validate_json(call.arguments.strip() or "{}")
            return await tool.describe(args, self.context)
        except Exception:  # a description is a courtesy: never a reason for the run to fail
            logger.warning("describing a call of %s failed", call.name, exc_info=True)
            return None

    async def call(self, call: ToolCallRequest) -> ToolOutcome:
        tool = self.tools.get(call.name)
        if tool is None:
            available = ", ".join(sorted(self.tools)) or "none"
            detail = f"There is no tool named {call.name!r}. Available tools: {available}."
            return _error(call, "unknown_tool", detail)
        try:
            args = tool.args_model.model_validate_json(call.arguments.strip() or "{}")
        except ValidationError as exc:
            return _invalid_arguments(call, exc)
        try:
            if tool.transactional:
                await open_transaction(self.context.session)
                async with self.context.session.begin_nested():
                    result = await tool.fn(self.context, args)
            else:
                result = await tool.fn(self.context, args)
        except AppError as exc:  # a rule of the domain: its message is meant for people
            return _error(call, exc.code, exc.detail)
        except Exception as exc:
            if (busy := database_unavailable(exc)) is not None:
                # the database's state, not the tool's failure: the model must not hear that
                # nothing was changed and answer as if done; the turn stops with a 503 to retry
                logger.warning("tool %s stopped its turn: %s", call.name, busy.detail)
                raise busy from exc
            logger.exception("tool %s failed", call.name, extra={"tool_call_id": call.id})
            detail = f"The tool {call.name!r} failed unexpectedly; nothing was changed."
            return _error(call, "tool_failed", detail)
        return ToolOutcome(call, json.dumps(result, default=str))


async def open_transaction(session: AsyncSession) -> None:
    """Make sure a real transaction is open before a savepoint.

    The sqlite3 driver starts a transaction only before a write; a SAVEPOINT sent first starts
    one of its own, and its RELEASE then commits: the tool's effect would be committed before
    the messages recording it. SQLAlchemy's engine-wide pysqlite recipe (BEGIN at every
    transaction start) was not taken: it would make every read-then-write transaction fail with
    "database is locked" when another connection commits in between, while the driver's late
    BEGIN keeps those snapshots fresh. Only a tool step needs the transaction early.
    """
    connection = await session.connection()
    if connection.dialect.name != "sqlite":
        return
    raw = await connection.get_raw_connection()
    if not getattr(raw.driver_connection, "in_transaction", True):
        # IMMEDIATE takes the write lock now (waiting up to busy_timeout): a deferred BEGIN
        # that reads and then writes fails at once with "database is locked" when another
        # connection (the job runner's poll) writes in between, since SQLite cannot upgrade it.
        await connection.exec_driver_sql("BEGIN IMMEDIATE")


def emphasized(text: str) -> str:
    """`text` in Markdown emphasis, its own `*`, `_` and `\\` escaped: a title a person named."""
    escaped = "".join("\\" + c if c in "\\*_`[]<>" else c for c in " ".join(text.split()))
    return f"*{escaped}*"


def error_outcome(call: ToolCallRequest, code: str, detail: str, **extra: Any) -> ToolOutcome:
    """A tool result the model reads as an error: `{"error": code, "detail": ..., **extra}`."""
    return _error(call, code, detail, **extra)


def _error(call: ToolCallRequest, code: str, detail: str, **extra: Any) -> ToolOutcome:
    return ToolOutcome(call, json.dumps({"error": code, "detail": detail, **extra}), True)


def _invalid_arguments(call: ToolCallRequest, exc: ValidationError) -> ToolOutcome:
    details = exc.errors()
    errors = [
        {"field": ".".join(str(p) for p in e["loc"]) or "arguments", "message": e["msg"]}
        for e in details
    ]
    if any(e["type"] == "json_invalid" for e in details):
        detail = f"The arguments of {call.name!r} are not valid JSON: {call.arguments!r}."
    else:
        first = errors[0]
        detail = f"Invalid arguments for {call.name!r}: {first['field']!r}: {first['message']}."
    return _error(call, "invalid_arguments", detail, errors=errors)


def inline_refs(schema: JSONObject) -> JSONObject:
    """The schema with every `$ref` to `$defs` replaced by its definition.

    OpenAI reads `$ref`, but several OpenAI-compatible servers (llama.cpp, older vLLM) do not.
    """
    definitions = schema.get("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return resolve(definitions[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    resolved: JSONObject = resolve(schema)
    return resolved
