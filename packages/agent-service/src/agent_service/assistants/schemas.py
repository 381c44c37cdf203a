"""Assistant schemas: the configuration a version freezes, what comes in, what goes out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
)

from agent_service.assistants.tools import (
    CLOSED_OBJECT,
    ApprovalNames,
    JsonKey,
    JsonValue,
    ToolConfig,
)
from agent_service.openapi import not_nullable
from agent_service.text import NON_BLANK, Text

# Stripped after the length check, so the published maxLength is the one applied.
Name = Annotated[
    str, StringConstraints(min_length=1, max_length=120), NON_BLANK, AfterValidator(str.strip)
]
Description = Annotated[Text, Field(max_length=2000)]
Instructions = Annotated[Text, Field(max_length=50_000)]
ModelName = Annotated[Text, Field(min_length=1, max_length=200)]
Metadata = Annotated[
    dict[JsonKey, JsonValue], Field(max_length=64, json_schema_extra=CLOSED_OBJECT)
]
Tools = Annotated[list[ToolConfig], Field(max_length=64)]


class SamplingSettings(BaseModel):
    """Sent to the model with every call of a run of this assistant; unset: the provider's."""

    model_config = ConfigDict(extra="forbid")

    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)


class ApprovalPolicy(BaseModel):
    """Which built-in tools pause for the user's approval, beyond (or instead of) their default
    (`delete_task` and `delete_project` ask by default)."""

    model_config = ConfigDict(extra="forbid")

    always: ApprovalNames = Field(default_factory=list)
    never: ApprovalNames = Field(default_factory=list)


class AssistantConfig(BaseModel):
    """Everything one immutable version holds."""

    model_config = ConfigDict(extra="forbid")

    name: Name
    description: Description = ""
    instructions: Instructions = ""
    model: ModelName | None = Field(default=None, description="Unset: the service's LLM_MODEL.")
    settings: SamplingSettings = Field(default_factory=SamplingSettings)
    tools: Tools = Field(default_factory=list)
    approval: ApprovalPolicy = Field(default_factory=ApprovalPolicy)
    metadata: Metadata = Field(default_factory=dict)


class AssistantCreate(AssistantConfig):
    """POST /api/assistants; `public: true` (admins only) publishes it to every user."""

    public: bool = False


def _refuse_null(value: object) -> object:
    if value is None:
        raise ValueError("cannot be null; leave the field out to keep its value")
    return value


class AssistantUpdate(BaseModel):
    """PATCH /api/assistants/{id}: the fields sent replace the latest version's; a new version."""

    model_config = ConfigDict(extra="forbid")

    name: Name | None = Field(default=None, json_schema_extra=not_nullable)
    description: Description | None = Field(default=None, json_schema_extra=not_nullable)
    instructions: Instructions | None = Field(default=None, json_schema_extra=not_nullable)
    model: ModelName | None = None
    settings: SamplingSettings | None = Field(default=None, json_schema_extra=not_nullable)
    tools: Tools | None = Field(default=None, json_schema_extra=not_nullable)
    approval: ApprovalPolicy | None = Field(default=None, json_schema_extra=not_nullable)
    metadata: Metadata | None = Field(default=None, json_schema_extra=not_nullable)
    public: bool | None = Field(default=None, json_schema_extra=not_nullable)

    _not_null = field_validator(
        "name", "description", "instructions", "settings", "tools", "approval", "metadata", "public"
    )(_refuse_null)

    def changes(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, exclude={"public"})


class AssistantVersionPublic(BaseModel):
    """One immutable version: the configuration a run with this version number used."""

    assistant_id: str
    version: int
    created_at: datetime | None
    name: str
    description: str
    instructions: str
    model: str | None
    settings: SamplingSettings
    tools: list[dict[str, Any]] = Field(description="Header values of MCP tools are redacted.")
    approval: ApprovalPolicy
    metadata: dict[str, Any]


class AssistantPublic(AssistantVersionPublic):
    """An assistant at its latest version. Built-in ones have their name as id and no owner."""

    id: str
    builtin: bool
    public: bool
    owner_id: uuid.UUID | None
    updated_at: datetime | None
