"""Per-user counts of owned resources, one grouped query per resource kind."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from agent_service.auth.models import EmailToken
from agent_service.conversations.models import Conversation
from agent_service.documents.models import Document
from agent_service.projects.models import Project
from agent_service.tasks.models import Task


@dataclass(frozen=True)
class Counted:
    name: str
    owner: InstrumentedAttribute[uuid.UUID]
    where: tuple[ColumnElement[bool], ...] = field(default=())


# Each domain with owned rows adds its line here.
COUNTED: list[Counted] = [
    Counted("pending_email_tokens", EmailToken.user_id, (EmailToken.used_at.is_(None),)),
    Counted("tasks", Task.user_id),
    Counted("projects", Project.user_id),
    Counted("conversations", Conversation.user_id),
    Counted("documents", Document.user_id),
]


async def owned_counts(
    session: AsyncSession, user_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, int]]:
    counts = {uid: dict.fromkeys((c.name for c in COUNTED), 0) for uid in user_ids}
    for counted in COUNTED:
        query = (
            select(counted.owner, func.count())
            .where(counted.owner.in_(user_ids), *counted.where)
            .group_by(counted.owner)
        )
        for uid, n in await session.execute(query):
            counts[uid][counted.name] = n
    return counts
