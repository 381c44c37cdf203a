"""vcrpy cassettes (and pydantic-ai's flavour of them) in this kit's format, scrubbed on the way.

vcrpy keeps a body as one string (pydantic-ai: as parsed YAML under `parsed_body`), so the chunk
boundaries of a stream are lost; the converter splits an SSE body at its event boundaries, one event
per chunk, which is how OpenAI sends them. vcrpy stores no date: `recorded_at` is taken from the
earliest `created` timestamp in the responses (OpenAI puts one in every completion), else given.
"""

from __future__ import annotations

import gzip
import json
import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from agent_testkit.cassettes.files import CassetteFile
from agent_testkit.cassettes.model import (
    NOT_RECORDED_HEADERS,
    Body,
    Headers,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    header,
    is_stream_content_type,
)
from agent_testkit.cassettes.scrub import Scrubber

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def convert_vcr_cassette(
    source_path: Path,
    *,
    source: str | None = None,
    recorded_at: datetime | None = None,
    scrubber: Scrubber | None = None,
) -> CassetteFile:
    """Read a vcrpy YAML cassette and return it as this kit's cassette, secrets scrubbed."""
    data = yaml.load(source_path.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 - safe
    if not isinstance(data, dict) or "interactions" not in data:
        raise ValueError(f"{str(source_path)!r} is not a vcrpy cassette (no `interactions`)")
    scrubber = scrubber or Scrubber()
    interactions = []
    for item in data["interactions"]:
        request, response = _request(item["request"]), _response(item["response"])
        request_scrubber = scrubber.with_request_credentials(request.headers)
        interactions.append(
            Interaction(request_scrubber.request(request), request_scrubber.response(response))
        )
    when = recorded_at or _earliest_created(interactions) or datetime.now(UTC)
    return CassetteFile(interactions, when, source)


def _request(data: dict[str, Any]) -> RecordedRequest:
    headers = _headers(data.get("headers"))
    if "parsed_body" in data:
        body = _parsed(data["parsed_body"])
    else:
        body = _body(data.get("body"), header(headers, "content-type"), stream=False)
    return RecordedRequest(str(data["method"]).upper(), str(data["uri"]), headers, body)


def _response(data: dict[str, Any]) -> RecordedResponse:
    headers = _headers(data.get("headers"))
    status = data.get("status") or {}
    content_type = header(headers, "content-type")
    if "parsed_body" in data:
        body = _parsed(data["parsed_body"])
    else:
        raw = (data.get("body") or {}).get("string")
        raw, decoded = _decompressed(raw, header(headers, "content-encoding"))
        if decoded:
            headers.pop("content-encoding", None)
        body = _body(raw, content_type, stream=is_stream_content_type(content_type))
    return RecordedResponse(int(status.get("code", 200)), headers, body, status.get("message"))


def _headers(data: Any) -> Headers:
    headers: Headers = {}
    for name, values in (data or {}).items():
        if name.lower() not in NOT_RECORDED_HEADERS:
            items = values if isinstance(values, list) else [values]
            headers[name.lower()] = [str(v) for v in items]
    return headers


def _parsed(value: Any) -> Body:
    return Body() if value is None else Body(kind="json", json=value)


def _body(raw: Any, content_type: str | None, *, stream: bool) -> Body:
    if raw is None or raw in ("", b""):
        return Body()
    content = raw.encode() if isinstance(raw, str) else bytes(raw)
    if stream:
        return Body.streamed(split_sse_events(content))
    return Body.from_bytes(content, content_type)


def _decompressed(raw: Any, encoding: str | None) -> tuple[Any, bool]:
    if not isinstance(raw, bytes) or encoding not in ("gzip", "deflate"):
        return raw, False
    return (gzip.decompress(raw) if encoding == "gzip" else zlib.decompress(raw)), True


def split_sse_events(content: bytes) -> list[bytes]:
    """`data: a\\n\\ndata: b\\n\\n` -> [`data: a\\n\\n`, `data: b\\n\\n`]; anything after the last event
    boundary stays in a final chunk."""
    chunks, rest = [], content
    while b"\n\n" in rest:
        event, rest = rest.split(b"\n\n", 1)
        chunks.append(event + b"\n\n")
    if rest:
        chunks.append(rest)
    return chunks


def _earliest_created(interactions: list[Interaction]) -> datetime | None:
    stamps: list[int] = []
    for interaction in interactions:
        body = interaction.response.body
        if body.kind == "json" and isinstance(body.json, dict):
            stamps.append(body.json.get("created") or 0)
        for chunk in body.chunks:
            for line in chunk.decode("utf-8", "replace").split("\n"):
                if line.startswith("data: {"):
                    try:
                        stamps.append(json.loads(line[6:]).get("created") or 0)
                    except ValueError:
                        continue
    valid = [s for s in stamps if isinstance(s, int) and s > 0]
    return datetime.fromtimestamp(min(valid), UTC) if valid else None
