"""The tool kinds an assistant can name, one JSON shape each (`type` tells them apart).

builtin    one of the service's own tools, by name (create_task, search_documents, ...)
mcp        the tools of a remote MCP server (streamable HTTP or SSE), by URL and headers
mcp_stdio  the tools of an MCP server run as a command on the server (admins only)
function   a client-side function: the run pauses until the client posts its output
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal, Union
from urllib.parse import urlsplit

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from typing_extensions import TypeAliasType

from agent_service.bounds import BIGINT_MAX, BIGINT_MIN
from agent_service.text import NUL_FREE_PATTERN, Text

ToolName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
# An http(s) URL with a host: the published schema states what `_http_url` checks, so a client (or
# a fuzzer) that follows the schema sends only URLs the service accepts.
HTTP_URL_PATTERN = r"^https?://[A-Za-z0-9._~%-]+(:[0-9]{0,5})?([/?#][^\s\x00]*)?$"
ApprovalNames = Annotated[list[ToolName], Field(max_length=64)]
REDACTED = "<redacted>"

# Free-form JSON (a function's parameters, an assistant's metadata) as the service accepts it:
# no NUL in strings or keys, integers within 64 bits, finite numbers (bounds.py refuses the rest
# before any route). The published schema says so, recursively, so schema-valid is accepted.
JsonKey = Annotated[str, Field(pattern=NUL_FREE_PATTERN)]
CLOSED_OBJECT = {"additionalProperties": False}
if TYPE_CHECKING:  # mypy cannot follow the recursive alias: Any, as before
    JsonValue = Any
else:
    JsonValue = TypeAliasType(
        "JsonValue",
        Union[  # noqa: UP007  (a recursive alias needs Union)
            Annotated[str, Field(pattern=NUL_FREE_PATTERN)],
            Annotated[int, Field(ge=BIGINT_MIN, le=BIGINT_MAX)],
            Annotated[
                float,
                Field(allow_inf_nan=False, json_schema_extra={"not": {"type": "integer"}}),
            ],
            bool,
            list["JsonValue"],
            Annotated[dict[JsonKey, "JsonValue"], Field(json_schema_extra=CLOSED_OBJECT)],
            None,
        ],
    )
JsonObject = Annotated[dict[JsonKey, JsonValue], Field(json_schema_extra=CLOSED_OBJECT)]


class ApprovalByName(BaseModel):
    model_config = ConfigDict(extra="forbid")

    always: ApprovalNames = Field(default_factory=list)


RequireApproval = Literal["always", "never"] | ApprovalByName


def _builtin_names(schema: dict[str, Any]) -> None:
    """Publish the built-in tool names as an `enum` (imported late: they come from the agents)."""
    from agent_service.assistants.builtin import BUILTIN_TOOLS

    schema["enum"] = list(BUILTIN_TOOLS)


class BuiltinTool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["builtin"]
    name: ToolName = Field(json_schema_extra=_builtin_names)

    @field_validator("name")
    @classmethod
    def _known(cls, name: str) -> str:
        from agent_service.assistants.builtin import BUILTIN_TOOLS

        if name not in BUILTIN_TOOLS:
            raise ValueError(f"no built-in tool {name!r}; they are {', '.join(BUILTIN_TOOLS)}")
        return name


class _MCPToolsBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    allowed_tools: ApprovalNames | None = None
    require_approval: RequireApproval = "never"

    def approval_needed(self, tool_name: str) -> bool:
        if isinstance(self.require_approval, ApprovalByName):
            return tool_name in self.require_approval.always
        return self.require_approval == "always"


class MCPTool(_MCPToolsBase):
    type: Literal["mcp"]
    server_url: Annotated[str, StringConstraints(max_length=2000, pattern=HTTP_URL_PATTERN)]
    headers: Annotated[
        dict[Text, Annotated[Text, Field(max_length=4000)]], Field(max_length=32)
    ] = Field(default_factory=dict)
    transport: Literal["streamable_http", "sse"] | None = None  # None: "sse" if the path ends /sse

    @field_validator("server_url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an http:// or https:// URL")
        return url

    @property
    def resolved_transport(self) -> str:
        if self.transport is not None:
            return self.transport
        return (
            "sse"
            if urlsplit(self.server_url).path.rstrip("/").endswith("/sse")
            else ("streamable_http")
        )


class MCPStdioTool(_MCPToolsBase):
    type: Literal["mcp_stdio"]
    command: Annotated[Text, Field(min_length=1, max_length=500)]
    args: Annotated[list[Annotated[Text, Field(max_length=2000)]], Field(max_length=64)] = Field(
        default_factory=list
    )


class FunctionTool(BaseModel):
    model_config = ConfigDict(extra="forbid")

    type: Literal["function"]
    name: ToolName
    description: Annotated[Text, Field(max_length=2000)] = ""
    parameters: JsonObject = Field(
        default_factory=lambda: dict[str, Any](type="object", properties={}),
        description="The arguments' JSON schema (an object schema).",
    )

    def schema_problem(self) -> str | None:
        """Why `parameters` is not an object's JSON schema, or None. Checked by the service (a
        400): no published schema can say "a valid JSON schema", so it is not a 422."""
        try:
            Draft202012Validator.check_schema(self.parameters)
        except SchemaError as exc:
            return f"is not a valid JSON schema: {exc.message}"
        if self.parameters.get("type", "object") != "object":
            return 'must describe an object (`"type": "object"`)'
        return None


ToolConfig = Annotated[
    BuiltinTool | MCPTool | MCPStdioTool | FunctionTool, Field(discriminator="type")
]


def redacted(tool: dict[str, Any]) -> dict[str, Any]:
    """A stored tool as clients see it: header values (tokens) are never sent back."""
    if tool.get("type") == "mcp" and tool.get("headers"):
        return {**tool, "headers": dict.fromkeys(tool["headers"], REDACTED)}
    return tool
