"""Embeddings through the provider's `/embeddings`, when EMBEDDING_MODEL is set, and their maths.

Vectors are stored as float32 bytes beside each chunk; ranking compares them in Python, which is
fine for the chunks of one user's documents (a vector index such as pgvector is the way past that).
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Sequence

import httpx
import openai

from agent_service.jobs.exceptions import RetryableJobError
from agent_service.llm.client import LLMClient
from agent_service.settings import Settings

BATCH_SIZE = 64


class EmbeddingsUnavailable(RetryableJobError):
    def __init__(self, what: str) -> None:
        super().__init__(
            f"The embedding provider could not compute embeddings ({what}); check EMBEDDING_MODEL "
            "and LLM_BASE_URL, or unset EMBEDDING_MODEL to index with full-text search only."
        )


class Embedder:
    def __init__(self, llm: LLMClient, model: str) -> None:
        self.llm = llm
        self.model = model

    async def embed(self, texts: Sequence[str]) -> list[list[float]]:
        """One vector per text, in order; `EmbeddingsUnavailable` when the provider fails."""
        sdk = self.llm.require_configured()
        vectors: list[list[float]] = []
        for start in range(0, len(texts), BATCH_SIZE):
            batch = list(texts[start : start + BATCH_SIZE])
            try:
                response = await sdk.embeddings.create(
                    model=self.model, input=batch, encoding_format="float"
                )
            except openai.APIStatusError as exc:
                raise EmbeddingsUnavailable(f"HTTP {exc.status_code}") from exc
            except (openai.OpenAIError, httpx.HTTPError) as exc:
                raise EmbeddingsUnavailable(type(exc).__name__) from exc
            data = sorted(response.data, key=lambda item: item.index)
            if len(data) != len(batch):
                raise EmbeddingsUnavailable(f"{len(data)} vectors for {len(batch)} texts")
            vectors.extend(list(item.embedding) for item in data)
        return vectors


def embedder_for(settings: Settings, llm: LLMClient) -> Embedder | None:
    """An embedder when EMBEDDING_MODEL and a provider key are set; else full-text search only."""
    if settings.embedding_model and llm.configured:
        return Embedder(llm, settings.embedding_model)
    return None


def pack(vector: Sequence[float]) -> bytes:
    """float32, little-endian, normalised to unit length (so a dot product is the cosine)."""
    norm = math.sqrt(sum(x * x for x in vector)) or 1.0
    values = array("f", (x / norm for x in vector))
    if sys.byteorder == "big":  # pragma: no cover - the stored format is little-endian
        values.byteswap()
    return values.tobytes()


def unpack(data: bytes) -> array[float]:
    values = array("f")
    values.frombytes(data)
    if sys.byteorder == "big":  # pragma: no cover
        values.byteswap()
    return values


def similarity(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two unit vectors; 0 when their sizes differ (a changed model)."""
    if len(a) != len(b):
        return 0.0
    return math.fsum(x * y for x, y in zip(a, b, strict=True))
