"""The chat-aware view of a recorded request."""

import pytest

from agent_testkit import RecordedCall

REQUEST = {
    "model": "gpt-test",
    "stream": True,
    "tools": [{"type": "function", "function": {"name": "create_task"}}],
    "messages": [
        {
            "role": "developer",
            "content": [{"type": "text", "text": "Be "}, {"type": "text", "text": "brief."}],
        },
        {"role": "user", "content": "Add two tasks"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "create_task", "arguments": "{}"},
                },
                {
                    "id": "c2",
                    "type": "function",
                    "function": {"name": "create_task", "arguments": "{}"},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": '{"id": "t1"}'},
        {"role": "tool", "tool_call_id": "c2", "content": '{"error": "duplicate"}'},
        {"role": "user", "content": "Thanks"},
    ],
}


def test_views():
    call = RecordedCall(0, REQUEST)
    assert call.system_prompt == "Be brief."
    assert call.last_user_message == "Thanks"
    assert (call.model, call.stream, call.tool_names) == ("gpt-test", True, ["create_task"])
    assert call.tool_results("create_task") == ['{"id": "t1"}', '{"error": "duplicate"}']
    assert call.tool_result("create_task") == '{"error": "duplicate"}'  # the latest
    assert call.tool_result_json("c1") == {"id": "t1"}


def test_missing_tool_result_says_what_was_there():
    with pytest.raises(LookupError, match=r"no tool result for 'list_tasks'.*\['c1', 'c2'\]"):
        RecordedCall(3, REQUEST).tool_result("list_tasks")
