"""Wire-format conversions and the history repair, as pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from openai.types.chat import ChatCompletionChunk

from agent_service.llm.client import retry_after_s
from agent_service.llm.messages import (
    ChatMessage,
    CompletionAssembler,
    NotACompletion,
    ToolCallRequest,
    Usage,
    completion_from_openai,
    valid_history,
)


def user(text: str) -> ChatMessage:
    return ChatMessage("user", text)


def calls(*ids: str) -> ChatMessage:
    return ChatMessage("assistant", None, tuple(ToolCallRequest(i, "t", "{}") for i in ids))


def result(call_id: str) -> ChatMessage:
    return ChatMessage("tool", "{}", tool_call_id=call_id)


def test_valid_history_keeps_a_complete_history() -> None:
    history = [user("a"), calls("1", "2"), result("1"), result("2"), ChatMessage("assistant", "ok")]
    assert valid_history(history) == history


def test_valid_history_drops_a_call_without_all_its_results() -> None:
    history = [user("a"), calls("1", "2"), result("1"), user("b")]
    assert valid_history(history) == [user("a"), user("b")]


def test_valid_history_drops_results_that_answer_no_call() -> None:
    assert valid_history([result("x"), user("a"), result("y")]) == [user("a")]


def test_valid_history_drops_a_trailing_unanswered_call() -> None:
    assert valid_history([user("a"), calls("1")]) == [user("a")]


def test_usage_adds_up() -> None:
    total = Usage(3, 4) + Usage(10, 1)
    assert (total.prompt_tokens, total.completion_tokens, total.total_tokens) == (13, 5, 18)


def test_to_openai_shapes() -> None:
    assert calls("1").to_openai() == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "1", "type": "function", "function": {"name": "t", "arguments": "{}"}}
        ],
    }
    assert result("1").to_openai() == {"role": "tool", "content": "{}", "tool_call_id": "1"}


@pytest.mark.parametrize("response", [None, {"choices": []}, "text"])
def test_completion_from_openai_refuses_what_is_not_a_completion(response: object) -> None:
    with pytest.raises(NotACompletion):
        completion_from_openai(response)


def chunk(
    delta: dict, *, finish: str | None = None, usage: dict | None = None
) -> ChatCompletionChunk:
    return ChatCompletionChunk.model_validate(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}] if delta else [],
            "usage": usage,
        }
    )


def test_assembler_joins_interleaved_tool_call_fragments() -> None:
    assembler = CompletionAssembler()
    parts = [
        chunk({"role": "assistant", "content": None}),
        chunk(
            {"tool_calls": [{"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}}]}
        ),
        chunk(
            {"tool_calls": [{"index": 1, "id": "b", "function": {"name": "g", "arguments": ""}}]}
        ),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x": '}}]}),
        chunk({"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]}),
        chunk({"tool_calls": [{"index": 0, "function": {"arguments": "1}"}}]}),
        chunk({}, finish="tool_calls"),
        chunk({}, usage={"prompt_tokens": 7, "completion_tokens": 2, "total_tokens": 9}),
    ]
    assert [assembler.add(p) for p in parts] == [""] * len(parts)
    completion = assembler.completion()
    assert completion.message.tool_calls == (
        ToolCallRequest("a", "f", '{"x": 1}'),
        ToolCallRequest("b", "g", "{}"),
    )
    assert completion.message.content is None
    assert completion.usage == Usage(7, 2)


def test_assembler_returns_text_deltas() -> None:
    assembler = CompletionAssembler()
    deltas = [assembler.add(chunk({"content": piece})) for piece in ("Hel", "lo")]
    assert deltas == ["Hel", "lo"]
    assert assembler.completion().message.content == "Hello"


def test_assembler_refuses_an_empty_stream() -> None:
    with pytest.raises(NotACompletion):
        CompletionAssembler().completion()


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"retry-after": "0.25"}, 0.25),
        ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
        ({"retry-after": "soon"}, None),
        ({}, None),
        ({"retry-after": "-3"}, 0.0),
    ],
)
def test_retry_after(headers: dict[str, str], expected: float | None) -> None:
    assert retry_after_s(headers) == expected


def test_retry_after_as_a_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    wait = retry_after_s({"retry-after": format_datetime(when, usegmt=True)})
    assert wait is not None and 28 <= wait <= 30
