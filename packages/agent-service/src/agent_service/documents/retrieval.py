"""Finding the passages that answer a question: the database's full-text search, fused with
embedding similarity when vectors exist (reciprocal-rank fusion, so neither score scale matters).

Scoped to one user's ready documents, or to one of them.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BindParameter, Float, Integer, Text, Uuid, bindparam, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.documents.embeddings import similarity, unpack
from agent_service.documents.models import Document, DocumentChunk, DocumentStatus
from agent_service.documents.textsearch import Phrase, fts5_query, query_phrases, tsquery

CANDIDATES = 50  # from each ranking, before fusion
RRF_K = 60
MAX_VECTOR_SCAN = 20_000
EXCERPT_CHARS = 300
SQLITE_SPARE_CANDIDATES = 100


@dataclass(frozen=True)
class Passage:
    chunk_id: uuid.UUID
    document_id: uuid.UUID
    page: int
    text: str
    score: float


# FTS5 narrows to the owner (or document) and ranks by itself; only the best candidates are then
# joined to their chunks (joining every match first costs ~10x on a common word).
_SQLITE = """
WITH hits AS (
    SELECT chunk_id, bm25(document_chunk_fts, 1.0, 0.0, 0.0, 0.0) AS rank
    FROM document_chunk_fts
    WHERE document_chunk_fts MATCH :match
    ORDER BY rank
    LIMIT :candidates
)
SELECT c.id AS chunk_id, c.document_id AS document_id, c.page AS page, c.text AS text,
       hits.rank AS rank
FROM hits
JOIN document_chunk AS c ON c.id = hits.chunk_id
JOIN document AS d ON d.id = c.document_id
WHERE d.user_id = :user_id AND d.status = 'ready' {only_document}
ORDER BY hits.rank
LIMIT :limit
"""

_POSTGRES = """
SELECT c.id AS chunk_id, c.document_id AS document_id, c.page AS page, c.text AS text,
       -ts_rank_cd(c.search_vector, q.query, 1) AS rank
FROM document_chunk AS c
JOIN document AS d ON d.id = c.document_id
CROSS JOIN to_tsquery('simple'::regconfig, :match) AS q(query)
WHERE c.search_vector @@ q.query
  AND d.user_id = :user_id AND d.status = 'ready' {only_document}
ORDER BY rank
LIMIT :limit
"""


def _fts5_match(phrases: list[Phrase], user_id: uuid.UUID, document_id: uuid.UUID | None) -> str:
    """The phrases in the text, narrowed inside FTS5 to the owner's (or one document's) rows."""
    match = "{search_text} : (" + fts5_query(phrases) + f') AND user_id : "{user_id.hex}"'
    if document_id is not None:
        match += f' AND document_id : "{document_id.hex}"'
    return match


async def full_text_search(
    session: AsyncSession,
    phrases: list[Phrase],
    *,
    user_id: uuid.UUID,
    document_id: uuid.UUID | None,
    limit: int,
) -> list[Passage]:
    """Best first, by bm25 (SQLite) or cover density (PostgreSQL)."""
    if not phrases:
        return []
    postgres = session.get_bind().dialect.name == "postgresql"
    template = _POSTGRES if postgres else _SQLITE
    match = tsquery(phrases) if postgres else _fts5_match(phrases, user_id, document_id)
    clause = text(template.format(only_document="AND d.id = :document_id" if document_id else ""))
    params: dict[str, object] = {"match": match, "user_id": user_id, "limit": limit}
    binds: list[BindParameter[Any]] = [
        bindparam("user_id", type_=Uuid()),
        bindparam("limit", type_=Integer()),
    ]
    if not postgres:  # room for chunks of documents still processing, dropped after the join
        params["candidates"] = limit + SQLITE_SPARE_CANDIDATES
        binds.append(bindparam("candidates", type_=Integer()))
    if document_id is not None:
        binds.append(bindparam("document_id", type_=Uuid()))
        params["document_id"] = document_id
    statement = clause.bindparams(*binds).columns(
        chunk_id=Uuid(), document_id=Uuid(), page=Integer(), text=Text(), rank=Float()
    )
    rows = await session.execute(statement, params)
    return [Passage(r.chunk_id, r.document_id, r.page, r.text, -float(r.rank)) for r in rows]


async def vector_search(
    session: AsyncSession,
    query_vector: list[float],
    *,
    user_id: uuid.UUID,
    document_id: uuid.UUID | None,
    limit: int,
) -> list[tuple[uuid.UUID, float]]:
    """Chunk ids by cosine similarity to the question's vector, best first."""
    query = (
        select(DocumentChunk.id, DocumentChunk.embedding)
        .join(Document, Document.id == DocumentChunk.document_id)
        .where(
            Document.user_id == user_id,
            Document.status == DocumentStatus.READY,
            DocumentChunk.embedding.is_not(None),
        )
        .limit(MAX_VECTOR_SCAN)
    )
    if document_id is not None:
        query = query.where(Document.id == document_id)
    norm = sum(x * x for x in query_vector) ** 0.5 or 1.0
    unit = [x / norm for x in query_vector]
    scored = [
        (chunk_id, similarity(unit, unpack(blob)))
        for chunk_id, blob in await session.execute(query)
        if blob is not None
    ]
    scored.sort(key=lambda item: item[1], reverse=True)
    return scored[:limit]


_DOT_LEADER = re.compile(r"(?:\.\s?){4,}|(?:\s\.){3,}")
_PAGE_COLUMN = re.compile(r"(?:\s|\.)(?:\d{1,4}|[ivxlc]{1,6})(?:\s*[,–-]\s*\d{1,4})*\s*$", re.I)
_REFERENCE_HEADING = re.compile(
    r"^\s*(?:table of contents|contents|index|references|bibliography)\b", re.IGNORECASE
)


def looks_like_reference(text: str) -> bool:
    """A contents, index or reference page: dot leaders, or most lines ending in a page number
    ("5 ASN.1 schema . [2] ..... 35"). It matches a question's words without answering it."""
    if _REFERENCE_HEADING.match(text) or len(_DOT_LEADER.findall(text)) >= 3:
        return True
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) < 4:
        return False
    numbered = sum(1 for line in lines if _PAGE_COLUMN.search(line))
    return numbered / len(lines) >= 0.5


def demote_references(passages: list[Passage]) -> list[Passage]:
    """The same passages, those that look like contents, index or reference pages last."""
    return sorted(passages, key=lambda p: looks_like_reference(p.text))


async def search_passages(
    session: AsyncSession,
    question: str,
    *,
    user_id: uuid.UUID,
    document_id: uuid.UUID | None = None,
    limit: int = 5,
    query_vector: list[float] | None = None,
) -> list[Passage]:
    """The `limit` best passages for `question` (hybrid when a query vector is given)."""
    phrases = query_phrases(question)
    lexical = await full_text_search(
        session, phrases, user_id=user_id, document_id=document_id, limit=CANDIDATES
    )
    if not query_vector:
        return demote_references(lexical)[:limit]
    semantic = await vector_search(
        session, query_vector, user_id=user_id, document_id=document_id, limit=CANDIDATES
    )
    fused: dict[uuid.UUID, float] = {}
    for ranking in ([p.chunk_id for p in lexical], [chunk_id for chunk_id, _ in semantic]):
        for rank, chunk_id in enumerate(ranking):
            fused[chunk_id] = fused.get(chunk_id, 0.0) + 1.0 / (RRF_K + rank + 1)
    best = sorted(fused, key=lambda chunk_id: fused[chunk_id], reverse=True)[: limit * 2]
    known = {p.chunk_id: p for p in lexical}
    missing = [chunk_id for chunk_id in best if chunk_id not in known]
    if missing:
        rows = await session.execute(select(DocumentChunk).where(DocumentChunk.id.in_(missing)))
        for chunk in rows.scalars():
            known[chunk.id] = Passage(chunk.id, chunk.document_id, chunk.page, chunk.text, 0.0)
    ranked = [
        Passage(c.chunk_id, c.document_id, c.page, c.text, fused[c.chunk_id])
        for c in (known[chunk_id] for chunk_id in best)
    ]
    return demote_references(ranked)[:limit]


async def first_passages(
    session: AsyncSession, document_id: uuid.UUID, *, limit: int
) -> list[Passage]:
    """The opening passages: what a question with nothing to match ("summarise this") gets."""
    rows = await session.execute(
        select(DocumentChunk)
        .where(DocumentChunk.document_id == document_id)
        .order_by(DocumentChunk.ordinal)
        .limit(limit)
    )
    return [Passage(c.id, c.document_id, c.page, c.text, 0.0) for c in rows.scalars()]


def excerpt(passage_text: str, question: str, *, width: int = EXCERPT_CHARS) -> str:
    """A window of the passage around the first word of the question it contains."""
    flat = " ".join(passage_text.split())
    if len(flat) <= width:
        return flat
    lowered = flat.casefold()
    hits = [
        lowered.find(word)
        for phrase in query_phrases(question)
        if len(word := "".join(phrase)) >= 3
    ]
    first = min((h for h in hits if h >= 0), default=0)
    start = max(0, min(first - width // 3, len(flat) - width))
    if start > 0:
        start = flat.find(" ", start) + 1 or start
    snippet = (
        flat[start : start + width].rsplit(" ", 1)[0] if start + width < len(flat) else flat[start:]
    )
    return ("…" if start > 0 else "") + snippet + ("…" if start + width < len(flat) else "")
