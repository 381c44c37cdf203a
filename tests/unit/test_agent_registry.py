"""The agent types and the schemas their tools show the model."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from agent_service.agents.exceptions import AgentTypeNotFound
from agent_service.agents.registry import AGENT_TYPES, get_agent_type
from agent_service.agents.tool import inline_refs
from agent_service.agents.tools.create_project import CreateProjectArgs
from agent_service.agents.tools.update_task import UpdateTaskArgs


def test_the_three_agent_types() -> None:
    assert list(AGENT_TYPES) == ["assistant", "researcher", "coder"]
    assert [t.name for t in AGENT_TYPES["assistant"].tools] == [
        "create_task",
        "update_task",
        "list_tasks",
        "create_project",
        "list_projects",
        "delete_task",
        "delete_project",
    ]
    assert all(agent.system_prompt and agent.description for agent in AGENT_TYPES.values())


def test_unknown_agent_type_names_the_known_ones() -> None:
    with pytest.raises(AgentTypeNotFound) as raised:
        get_agent_type("wizard")
    assert raised.value.status_code == 404
    assert "'wizard'" in raised.value.detail and "assistant" in raised.value.detail


@pytest.mark.parametrize("tool", AGENT_TYPES["assistant"].tools, ids=lambda t: t.name)
def test_tool_schemas_are_self_contained_objects(tool) -> None:
    spec = tool.spec
    assert spec.parameters["type"] == "object"
    assert spec.parameters["additionalProperties"] is False
    assert "$ref" not in json.dumps(spec.parameters) and "$defs" not in spec.parameters
    assert spec.to_openai()["function"]["name"] == tool.name


def test_nested_models_are_inlined() -> None:
    schema = inline_refs(CreateProjectArgs.model_json_schema())
    item = schema["properties"]["tasks"]["items"]
    assert item["properties"]["priority"]["enum"] == ["low", "medium", "high"]


def test_tool_arguments_are_validated_strictly() -> None:
    with pytest.raises(ValidationError):
        UpdateTaskArgs.model_validate({"task_id": "x", "colour": "red"})
    assert UpdateTaskArgs.model_validate({"task_id": "x", "title": None}).title is None
