"""Load-or-404 for /api/documents/{document_id}: unknown, malformed and other users' ids alike."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from agent_service.db import parse_id
from agent_service.deps import CurrentUser, SessionDep
from agent_service.documents import service
from agent_service.documents.exceptions import DocumentNotFound
from agent_service.documents.models import Document


async def owned_document(document_id: str, user: CurrentUser, session: SessionDep) -> Document:
    parsed = parse_id(document_id)
    if parsed is None:
        raise DocumentNotFound(document_id)
    return await service.get_document(session, user.id, parsed)


OwnedDocument = Annotated[Document, Depends(owned_document)]
