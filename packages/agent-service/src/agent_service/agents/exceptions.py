from __future__ import annotations

from agent_service.errors import InvalidRequest, NotFound, UpstreamError


class AgentTypeNotFound(NotFound):
    code = "agent_type_not_found"

    def __init__(self, agent_type: str, known: list[str]) -> None:
        super().__init__(
            f"Agent type {agent_type!r} not found; the agent types are {', '.join(known)}."
        )


class AgentTypeMismatch(InvalidRequest):
    code = "agent_type_mismatch"

    def __init__(self, conversation_id: object, has: str, asked: str) -> None:
        super().__init__(
            f"Conversation {str(conversation_id)!r} is with the {has!r} agent, not {asked!r}: "
            f"continue it with agent type {has!r}, or leave out the id to use another conversation."
        )


class AgentStepLimit(UpstreamError):
    """The model kept calling tools: the turn stops rather than loop (or bill) forever."""

    status_code = 502
    code = "agent_step_limit"

    def __init__(self, max_steps: int) -> None:
        super().__init__(
            f"The agent was still calling tools after {max_steps} model calls (AGENT_MAX_STEPS), "
            "so it was stopped; what its tools did so far is kept. Rephrase or split the request."
        )
