"""Arguments checked against a JSON schema that arrives at run time (an MCP tool's, a client
function's), in the same `Tool.args_model` seam the built-in tools' Pydantic models use: a call
whose arguments do not match is answered `invalid_arguments` before anything runs."""

from __future__ import annotations

from typing import Any, ClassVar

from jsonschema import Draft202012Validator
from pydantic import RootModel, model_validator

from agent_service.agents.tool import JSONObject


class SchemaArguments(RootModel[dict[str, Any]]):
    """A JSON object validated by `validator` (set per tool by `arguments_model`)."""

    validator: ClassVar[Draft202012Validator | None] = None

    @model_validator(mode="after")
    def _matches_schema(self) -> SchemaArguments:
        if self.validator is None:
            return self
        error = next(iter(sorted(self.validator.iter_errors(self.root), key=str)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "arguments"
            raise ValueError(f"{where}: {error.message}")
        return self


def arguments_model(tool_name: str, schema: JSONObject) -> type[SchemaArguments]:
    """A `SchemaArguments` subclass for one tool's schema (an invalid schema checks nothing)."""
    model: type[SchemaArguments] = type(
        f"{tool_name}_arguments", (SchemaArguments,), {"__module__": __name__}
    )
    try:
        Draft202012Validator.check_schema(schema)
    except Exception:  # a server's broken schema is not the model's fault: only JSON is checked
        return model
    model.validator = Draft202012Validator(schema)
    return model
