"""The app's LLM client and the agent type named in a path, for the chat routes."""

from __future__ import annotations

from typing import Annotated, cast

from fastapi import Depends, Request

from agent_service.agents.registry import AgentType, get_agent_type
from agent_service.deps import CurrentUser
from agent_service.llm.client import LLMClient


async def get_llm(request: Request) -> LLMClient:
    return cast(LLMClient, request.app.state.llm)


async def known_agent_type(agent_type: str, _user: CurrentUser) -> AgentType:
    """404 for an unknown type, before the body is even looked at, but after the token: the
    404 lists the built-in agent names, which are for signed-in callers only."""
    return get_agent_type(agent_type)


LLMDep = Annotated[LLMClient, Depends(get_llm)]
KnownAgentType = Annotated[AgentType, Depends(known_agent_type)]
