from __future__ import annotations

from agent_service.errors import InvalidRequest


class NotAClientToolCall(InvalidRequest):
    code = "not_a_client_tool_call"

    def __init__(self, tool_call_id: str) -> None:
        super().__init__(
            f"Tool call {tool_call_id!r} is not a client-side function call this run waits on: "
            "send its decision in `decisions` (or to /resume) instead."
        )
