"""The agent loop: history → model → tool calls → model … until a final answer.

It knows nothing of HTTP or of how messages are stored. It yields what happens, and the caller
decides what to keep: a `ToolStep` is yielded after the step's tools ran and before the next model
call, so the caller commits the tools' effects together with the messages that record them.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import Protocol

from agent_service.agents.exceptions import AgentStepLimit
from agent_service.agents.registry import AgentType
from agent_service.agents.tool import Toolbox, ToolOutcome
from agent_service.llm.messages import (
    ChatMessage,
    Completion,
    TextDelta,
    ToolCallRequest,
    ToolSpec,
    Usage,
)


class ChatModel(Protocol):
    """What the loop needs of a model; `LLMClient` is the one we ship."""

    async def complete(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()
    ) -> Completion: ...

    def stream(
        self, messages: Sequence[ChatMessage], tools: Sequence[ToolSpec] = ()
    ) -> AsyncGenerator[TextDelta | Completion, None]: ...


@dataclass(frozen=True)
class ToolCallStarted:
    """The model asked for this call; it runs next."""

    call: ToolCallRequest


@dataclass(frozen=True)
class ToolStep:
    """A model answer made of tool calls, and every call's outcome, in the order asked."""

    message: ChatMessage
    outcomes: tuple[ToolOutcome, ...]
    usage: Usage


@dataclass(frozen=True)
class FinalAnswer:
    message: ChatMessage
    usage: Usage


@dataclass(frozen=True)
class ApprovalRequired:
    """The model asked for tools that need the user's approval: the turn pauses here.

    The step's other calls already ran (`outcomes`); `awaiting` are the calls left unanswered
    until the user decides.
    """

    message: ChatMessage
    outcomes: tuple[ToolOutcome, ...]
    awaiting: tuple[ToolCallRequest, ...]
    usage: Usage


LoopEvent = TextDelta | ToolCallStarted | ToolStep | FinalAnswer | ApprovalRequired


async def run_agent(
    model: ChatModel,
    agent: AgentType,
    history: Sequence[ChatMessage],
    toolbox: Toolbox,
    *,
    max_steps: int,
    stream: bool = False,
) -> AsyncGenerator[LoopEvent, None]:
    """Walk one turn; at most `max_steps` model calls, then 502 `agent_step_limit`.

    Parallel tool calls run one after another, in the order the model gave them: they share the
    turn's transaction, and their results must go back in that order anyway. A call to a tool
    that `requires_approval` is not made: the turn ends with `ApprovalRequired` instead.
    """
    messages = [ChatMessage("system", agent.system_prompt), *history]
    specs = toolbox.specs
    for step in range(1, max_steps + 1):
        completion: Completion | None = None
        async with aclosing(_ask(model, messages, specs, stream=stream)) as answers:
            async for answer in answers:
                if isinstance(answer, TextDelta):
                    yield answer
                else:
                    completion = answer
        assert completion is not None, "a model answer always ends with its completion"
        message = completion.message
        if not message.tool_calls:
            yield FinalAnswer(message, completion.usage)
            return
        if step == max_steps:
            raise AgentStepLimit(max_steps)
        outcomes: list[ToolOutcome] = []
        awaiting: list[ToolCallRequest] = []
        for call in message.tool_calls:
            yield ToolCallStarted(call)
            if toolbox.requires_approval(call):
                awaiting.append(call)
            else:
                outcomes.append(await toolbox.call(call))
        if awaiting:
            yield ApprovalRequired(message, tuple(outcomes), tuple(awaiting), completion.usage)
            return
        yield ToolStep(message, tuple(outcomes), completion.usage)
        messages += [message, *(outcome.as_message() for outcome in outcomes)]


async def _ask(
    model: ChatModel, messages: Sequence[ChatMessage], specs: Sequence[ToolSpec], *, stream: bool
) -> AsyncGenerator[TextDelta | Completion, None]:
    if not stream:
        yield await model.complete(messages, specs)
        return
    async with aclosing(model.stream(messages, specs)) as answers:
        async for answer in answers:
            yield answer
