"""Assistant rules: who may see, run and change which assistant, and how versions are made.

A user sees the built-in assistants, its own, and those an admin published; it changes only its
own. Every create or change writes a new immutable version in the same transaction as the head.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.assistants.builtin import BUILTIN_ASSISTANTS
from agent_service.assistants.exceptions import (
    AssistantNotFound,
    AssistantReadOnly,
    InvalidToolSchema,
    PublishAdminOnly,
    StdioToolAdminOnly,
)
from agent_service.assistants.models import Assistant, AssistantVersion
from agent_service.assistants.schemas import (
    AssistantConfig,
    AssistantCreate,
    AssistantPublic,
    AssistantUpdate,
    AssistantVersionPublic,
)
from agent_service.assistants.tools import FunctionTool, MCPStdioTool, redacted
from agent_service.db import parse_id, utcnow
from agent_service.users.models import User


@dataclass(frozen=True)
class ResolvedAssistant:
    """An assistant at one version, as a run uses it."""

    assistant_id: str
    version: int
    config: AssistantConfig
    builtin: bool


def _visible(user: User) -> ColumnElement[bool]:
    return or_(Assistant.user_id == user.id, Assistant.public.is_(True))


async def visible_row(session: AsyncSession, user: User, assistant_id: str) -> Assistant:
    parsed = parse_id(assistant_id)
    row = await session.get(Assistant, parsed) if parsed else None
    if row is None or not (row.public or row.user_id == user.id):
        raise AssistantNotFound(assistant_id)
    return row


async def resolve_assistant(
    session: AsyncSession, user: User, assistant_id: str, *, version: int | None = None
) -> ResolvedAssistant:
    """The assistant a run will use (its latest version unless one is named); 404 when the user
    may not see it or the version does not exist."""
    builtin = BUILTIN_ASSISTANTS.get(assistant_id)
    if builtin is not None:
        if version not in (None, 1):
            raise AssistantNotFound(assistant_id, version)
        return ResolvedAssistant(assistant_id, 1, builtin, builtin=True)
    row = await visible_row(session, user, assistant_id)
    wanted = version if version is not None else row.version
    stored = await session.get(AssistantVersion, (row.id, wanted))
    if stored is None:
        raise AssistantNotFound(assistant_id, version)
    return ResolvedAssistant(str(row.id), wanted, AssistantConfig(**stored.config), builtin=False)


async def changeable_assistant(session: AsyncSession, user: User, assistant_id: str) -> Assistant:
    """Load-or-404 for a change: built-in and other users' published assistants are 403."""
    if assistant_id in BUILTIN_ASSISTANTS:
        raise AssistantReadOnly(assistant_id)
    row = await visible_row(session, user, assistant_id)
    if row.user_id != user.id:
        raise AssistantReadOnly(assistant_id)
    return row


def _check_allowed(user: User, config: AssistantConfig, *, public: bool) -> None:
    if public and not user.is_admin:
        raise PublishAdminOnly()
    if not user.is_admin and any(isinstance(t, MCPStdioTool) for t in config.tools):
        raise StdioToolAdminOnly()
    for tool in config.tools:
        if isinstance(tool, FunctionTool) and (problem := tool.schema_problem()) is not None:
            raise InvalidToolSchema(tool.name, problem)


async def _add_version(session: AsyncSession, row: Assistant, config: AssistantConfig) -> None:
    session.add(
        AssistantVersion(
            assistant_id=row.id, version=row.version, config=config.model_dump(mode="json")
        )
    )
    await session.flush()


async def create_assistant(session: AsyncSession, user: User, body: AssistantCreate) -> Assistant:
    """A new assistant at version 1."""
    config = AssistantConfig(**body.model_dump(exclude={"public"}))
    _check_allowed(user, config, public=body.public)
    row = Assistant(user_id=user.id, name=config.name, public=body.public, version=1)
    session.add(row)
    await session.flush()
    await _add_version(session, row, config)
    return row


async def update_assistant(
    session: AsyncSession, user: User, row: Assistant, body: AssistantUpdate
) -> Assistant:
    """The latest version with the fields sent replaced, stored as the next version."""
    current = await resolve_assistant(session, user, str(row.id))
    config = AssistantConfig(**{**current.config.model_dump(), **body.changes()})
    public = row.public if body.public is None else body.public
    _check_allowed(user, config, public=public and not row.public)
    row.public = public
    row.name = config.name
    row.version += 1
    row.updated_at = utcnow()
    await _add_version(session, row, config)
    return row


async def delete_assistant(session: AsyncSession, row: Assistant) -> None:
    await session.delete(row)
    await session.flush()


async def list_assistants(
    session: AsyncSession, user: User, *, limit: int, offset: int
) -> tuple[list[AssistantPublic], int]:
    """Built-in assistants first, then the user's own and published ones, oldest first."""
    builtins = [builtin_public(name) for name in BUILTIN_ASSISTANTS]
    total = len(builtins) + (
        await session.scalar(select(func.count()).select_from(Assistant).where(_visible(user))) or 0
    )
    page = builtins[offset : offset + limit]
    stored_offset = max(0, offset - len(builtins))
    stored_limit = limit - len(page)
    if stored_limit > 0:
        query = (
            select(Assistant, AssistantVersion)
            .join(
                AssistantVersion,
                (AssistantVersion.assistant_id == Assistant.id)
                & (AssistantVersion.version == Assistant.version),
            )
            .where(_visible(user))
            .order_by(Assistant.created_at, Assistant.id)
            .limit(stored_limit)
            .offset(stored_offset)
        )
        page += [assistant_public(a, v) for a, v in (await session.execute(query)).all()]
    return page, total


async def latest_public(session: AsyncSession, row: Assistant) -> AssistantPublic:
    stored = await session.get(AssistantVersion, (row.id, row.version))
    assert stored is not None, "every assistant has its latest version"
    return assistant_public(row, stored)


async def list_versions(
    session: AsyncSession, user: User, assistant_id: str
) -> Sequence[AssistantVersionPublic]:
    """Every version, newest first."""
    if assistant_id in BUILTIN_ASSISTANTS:
        return [_version_public(assistant_id, 1, None, BUILTIN_ASSISTANTS[assistant_id])]
    row = await visible_row(session, user, assistant_id)
    query = (
        select(AssistantVersion)
        .where(AssistantVersion.assistant_id == row.id)
        .order_by(AssistantVersion.version.desc())
    )
    versions = (await session.scalars(query)).all()
    return [
        _version_public(str(row.id), v.version, v.created_at, AssistantConfig(**v.config))
        for v in versions
    ]


def _version_public(
    assistant_id: str, version: int, created_at: datetime | None, config: AssistantConfig
) -> AssistantVersionPublic:
    data = config.model_dump(mode="json")
    data["tools"] = [redacted(tool) for tool in data["tools"]]
    return AssistantVersionPublic(
        assistant_id=assistant_id, version=version, created_at=created_at, **data
    )


def assistant_public(row: Assistant, stored: AssistantVersion) -> AssistantPublic:
    version = _version_public(
        str(row.id), stored.version, stored.created_at, AssistantConfig(**stored.config)
    )
    return AssistantPublic(
        **version.model_dump(),
        id=str(row.id),
        builtin=False,
        public=row.public,
        owner_id=row.user_id,
        updated_at=row.updated_at,
    )


def builtin_public(name: str) -> AssistantPublic:
    version = _version_public(name, 1, None, BUILTIN_ASSISTANTS[name])
    return AssistantPublic(
        **version.model_dump(), id=name, builtin=True, public=True, owner_id=None, updated_at=None
    )
