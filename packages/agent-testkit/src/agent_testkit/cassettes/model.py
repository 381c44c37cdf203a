"""What a cassette holds: requests and responses with bodies kept readable, and streams kept as chunks.

A JSON body is stored as data (diffable, scrubbable field by field), text as text, anything else as
base64. A streamed response (SSE, NDJSON) is stored as the list of chunks the client received, with
the delay before each, so replay hands the client the same pieces at the same (scaled) pace.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

STREAM_CONTENT_TYPES = ("text/event-stream", "application/x-ndjson", "application/jsonl")
NOT_RECORDED_HEADERS = frozenset({"content-length", "transfer-encoding"})  # bodies are re-encoded
Headers = dict[str, list[str]]


@dataclass
class Body:
    """One body: exactly one of `json`, `text`, `data` (bytes), or `chunks` (a stream) is meaningful."""

    kind: str = "empty"  # "empty" | "json" | "text" | "binary" | "chunks"
    json: Any = None
    text: str = ""
    data: bytes = b""
    chunks: list[bytes] = field(default_factory=list)
    delays_ms: list[float] | None = None

    @classmethod
    def from_bytes(cls, content: bytes, content_type: str | None) -> Body:
        """The most readable faithful form of `content`, given its Content-Type."""
        if not content:
            return cls()
        ctype = (content_type or "").lower()
        if not ctype or "json" in ctype:
            try:
                return cls(kind="json", json=json.loads(content))
            except ValueError:
                pass
        try:
            return cls(kind="text", text=content.decode("utf-8"))
        except UnicodeDecodeError:
            return cls(kind="binary", data=content)

    @classmethod
    def streamed(cls, chunks: list[bytes], delays_ms: list[float] | None = None) -> Body:
        return cls(kind="chunks", chunks=list(chunks), delays_ms=delays_ms)

    def to_bytes(self) -> bytes:
        """The whole body, as the client reads it."""
        if self.kind == "json":
            return json.dumps(self.json, ensure_ascii=False, separators=(",", ":")).encode()
        if self.kind == "text":
            return self.text.encode()
        if self.kind == "binary":
            return self.data
        return b"".join(self.chunks)

    def to_chunks(self) -> list[bytes]:
        """The pieces replay hands to the client: the recorded chunks, or the whole body as one."""
        if self.kind == "chunks":
            return list(self.chunks)
        whole = self.to_bytes()
        return [whole] if whole else []

    def to_yaml(self) -> dict[str, Any] | None:
        if self.kind == "json":
            return {"json": self.json}
        if self.kind == "text":
            return {"text": self.text}
        if self.kind == "binary":
            return {"base64": base64.b64encode(self.data).decode()}
        if self.kind == "chunks":
            return _chunks_to_yaml(self.chunks, self.delays_ms)
        return None

    @classmethod
    def from_yaml(cls, data: dict[str, Any] | None) -> Body:
        if not data:
            return cls()
        if "json" in data:
            return cls(kind="json", json=data["json"])
        if "text" in data:
            return cls(kind="text", text=data["text"])
        if "base64" in data:
            return cls(kind="binary", data=base64.b64decode(data["base64"]))
        if "chunks" in data:
            return cls.streamed([c.encode() for c in data["chunks"]], data.get("delays_ms"))
        if "chunks_base64" in data:
            chunks = [base64.b64decode(c) for c in data["chunks_base64"]]
            return cls.streamed(chunks, data.get("delays_ms"))
        raise ValueError(
            f"unknown body form {sorted(data)!r}: expected json, text, base64 or chunks"
        )


def _chunks_to_yaml(chunks: list[bytes], delays_ms: list[float] | None) -> dict[str, Any]:
    try:
        stored: dict[str, Any] = {"chunks": [c.decode("utf-8") for c in chunks]}
    except UnicodeDecodeError:  # a chunk boundary inside a multi-byte character, or binary
        stored = {"chunks_base64": [base64.b64encode(c).decode() for c in chunks]}
    if delays_ms is not None:
        stored["delays_ms"] = [round(d, 1) for d in delays_ms]
    return stored


def header(headers: Headers, name: str) -> str | None:
    """The first value of a header, by case-insensitive name."""
    for key, values in headers.items():
        if key.lower() == name and values:
            return values[0]
    return None


def is_stream_content_type(content_type: str | None) -> bool:
    return (content_type or "").split(";")[0].strip().lower() in STREAM_CONTENT_TYPES


@dataclass
class RecordedRequest:
    method: str
    url: str
    headers: Headers = field(default_factory=dict)
    body: Body = field(default_factory=Body)

    def describe(self) -> str:
        return f"{self.method} {self.url}"

    def to_yaml(self) -> dict[str, Any]:
        data: dict[str, Any] = {"method": self.method, "url": self.url, "headers": self.headers}
        body = self.body.to_yaml()
        if body is not None:
            data["body"] = body
        return data

    @classmethod
    def from_yaml(cls, data: dict[str, Any]) -> RecordedRequest:
        return cls(
            method=str(data["method"]).upper(),
            url=str(data["url"]),
            headers=_headers_from_yaml(data.get("headers")),
            body=Body.from_yaml(data.get("body")),
        )


@dataclass
class RecordedResponse:
    status: int
    headers: Headers = field(default_factory=dict)
    body: Body = field(default_factory=Body)
    reason: str | None = None

    def to_yaml(self) -> dict[str, Any]:
        data: dict[str, Any] = {"status": self.status}
        if self.reason:
            data["reason"] = self.reason
        data["headers"] = self.headers
        body = self.body.to_yaml()
        if body is not None:
            data["body"] = body
        return data

    @classmethod
    def from_yaml(cls, data: dict[str, Any]) -> RecordedResponse:
        return cls(
            status=int(data["status"]),
            headers=_headers_from_yaml(data.get("headers")),
            body=Body.from_yaml(data.get("body")),
            reason=data.get("reason"),
        )


@dataclass
class Interaction:
    request: RecordedRequest
    response: RecordedResponse

    def to_yaml(self) -> dict[str, Any]:
        return {"request": self.request.to_yaml(), "response": self.response.to_yaml()}

    @classmethod
    def from_yaml(cls, data: dict[str, Any]) -> Interaction:
        return cls(
            RecordedRequest.from_yaml(data["request"]), RecordedResponse.from_yaml(data["response"])
        )


def _headers_from_yaml(data: Any) -> Headers:
    if not data:
        return {}
    return {
        str(k): [str(v) for v in (vs if isinstance(vs, list) else [vs])] for k, vs in data.items()
    }
