"""The shipped agent types as read-only assistants, defined with the same configuration.

Their id is their name (`assistant`, `researcher`, `coder`), so `assistant_id: "coder"` and
`agent_type: "coder"` name the same thing, and their version is always 1.
"""

from __future__ import annotations

from typing import Any

from agent_service.agents.registry import AGENT_TYPES
from agent_service.agents.tool import Tool
from agent_service.assistants.schemas import AssistantConfig
from agent_service.assistants.tools import BuiltinTool

# Every tool the service ships, by name: what `{"type": "builtin", "name"}` may name.
BUILTIN_TOOLS: dict[str, Tool[Any]] = {
    tool.name: tool for agent in AGENT_TYPES.values() for tool in agent.tools
}

BUILTIN_ASSISTANTS: dict[str, AssistantConfig] = {
    agent.name: AssistantConfig(
        name=agent.name,
        description=agent.description,
        instructions=agent.system_prompt,
        tools=[BuiltinTool(type="builtin", name=tool.name) for tool in agent.tools],
    )
    for agent in AGENT_TYPES.values()
}
