"""Asking a document: retrieve passages, prompt the model with them, answer with citations.

The model sees numbered passages with their pages and is asked to cite them as [n]; the citations
returned are the passages it cited (all it was given, when it cited none), so each one points at a
chunk and page a person can check.
"""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import AsyncGenerator, Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from agent_service.conversations.schemas import UsagePublic
from agent_service.documents.embeddings import EmbeddingsUnavailable, embedder_for
from agent_service.documents.models import Document
from agent_service.documents.retrieval import Passage, excerpt, first_passages, search_passages
from agent_service.documents.schemas import AnswerDeltaEvent, AskAnswer, Citation
from agent_service.llm.client import LLMClient
from agent_service.llm.messages import ChatMessage, Completion, TextDelta
from agent_service.settings import Settings
from agent_service.sse import NamedEvent

logger = logging.getLogger("agent_service.documents")

SYSTEM_PROMPT = (
    "You answer questions about one document using only the numbered passages the user gives "
    "you. Cite every passage you use with its number in square brackets, like [1] or [2][3]. "
    "If the passages do not contain the answer, say so plainly instead of guessing. Answer in "
    "the language of the question."
)
_MARKER = re.compile(r"\[(\d{1,3})\]")


async def retrieve(
    session: AsyncSession,
    settings: Settings,
    llm: LLMClient,
    document: Document,
    question: str,
    *,
    top_k: int,
) -> list[Passage]:
    """The passages for the prompt: hybrid when embeddings are on, the opening ones if none match."""
    query_vector = None
    embedder = embedder_for(settings, llm)
    if embedder is not None:
        try:
            [query_vector] = await embedder.embed([question])
        except EmbeddingsUnavailable as exc:
            logger.warning("asking with full-text search only: %s", exc.message)
    passages = await search_passages(
        session,
        question,
        user_id=document.user_id,
        document_id=document.id,
        limit=top_k,
        query_vector=query_vector,
    )
    return passages or await first_passages(session, document.id, limit=top_k)


def build_messages(filename: str, question: str, passages: Sequence[Passage]) -> list[ChatMessage]:
    context = "\n\n".join(
        f"[{number}] (page {passage.page})\n{passage.text}"
        for number, passage in enumerate(passages, start=1)
    )
    user = f"Passages from {filename!r}:\n\n{context}\n\nQuestion: {question}"
    return [ChatMessage("system", SYSTEM_PROMPT), ChatMessage("user", user)]


def citations(answer: str, passages: Sequence[Passage], question: str) -> list[Citation]:
    numbers = [int(n) for n in _MARKER.findall(answer)]
    cited = [n - 1 for n in dict.fromkeys(numbers) if 1 <= n <= len(passages)]
    chosen = [passages[i] for i in cited] if cited else list(passages)
    return [
        Citation(chunk_id=p.chunk_id, page=p.page, excerpt=excerpt(p.text, question))
        for p in chosen
    ]


def answer_of(
    completion: Completion, document_id: uuid.UUID, passages: Sequence[Passage], question: str
) -> AskAnswer:
    response = completion.message.content or ""
    return AskAnswer(
        response=response,
        document_id=document_id,
        citations=citations(response, passages, question),
        usage=UsagePublic.of(completion.usage),
    )


async def stream_answer(
    llm: LLMClient,
    messages: list[ChatMessage],
    document_id: uuid.UUID,
    passages: Sequence[Passage],
    question: str,
) -> AsyncGenerator[NamedEvent, None]:
    """`message.delta` events as the model writes, then `message.completed` with the citations."""
    async for item in llm.stream(messages):
        if isinstance(item, TextDelta):
            yield "message.delta", AnswerDeltaEvent(delta=item.text)
        else:
            yield "message.completed", answer_of(item, document_id, passages, question)
