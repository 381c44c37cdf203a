"""Secrets never reach a cassette file: they are replaced when the traffic is captured, before matching
or saving, in requests and responses alike.

By default: credential headers, token-like query parameters and form fields, JSON fields whose name
says secret (`api_key`, `access_token`, `client_secret`, `password`, `authorization`...), and the
literal values of secret-looking environment variables and of any bearer token the app sent, wherever
they appear (a server that echoes a key back in a body or an SSE chunk is caught too).

Names are compared by words, not substrings: `access_token` and `apiKey` are secrets, `max_tokens`
and `prompt_tokens` (counts) are not, and only string values are ever replaced. `token` inside
`logprobs` is the model's text, not a credential, and is kept.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from agent_testkit.cassettes.model import Body, Headers, RecordedRequest, RecordedResponse, header

REPLACEMENT = "<scrubbed>"
DEFAULT_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "api-key",
        "x-api-key",
        "cookie",
        "set-cookie",
        "x-auth-token",
        "x-goog-api-key",
        "x-amz-security-token",
        "openai-organization",  # account identifiers, not credentials, but nobody else's business
        "openai-project",
        "anthropic-organization-id",
    }
)
DEFAULT_QUERY_PARAMS = frozenset(
    {"token", "access_token", "api_key", "apikey", "key", "sig", "signature", "client_secret"}
)
_SECRET_WORDS = frozenset(
    {
        "password",
        "passwd",
        "secret",
        "secrets",
        "authorization",
        "apikey",
        "credential",
        "credentials",
    }
)
_KEY_QUALIFIERS = frozenset({"api", "secret", "private", "access", "signing", "encryption"})
_NOT_SECRET_SUBTREES = frozenset({"logprobs", "top_logprobs"})
_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")
# Shorter values (a dev password like "postgres") would scrub ordinary words out of every body.
MIN_SECRET_VALUE_LENGTH = 12


def name_words(name: str) -> list[str]:
    """`x-api-key`, `apiKey`, `API_KEY` -> ["x", "api", "key"] / ["api", "key"]."""
    return [w.lower() for w in _WORD.findall(name)]


def is_secret_name(name: str) -> bool:
    """Whether a field, parameter or variable name says it holds a credential."""
    words = name_words(name)
    if not words:
        return False
    if _SECRET_WORDS.intersection(words) or words[-1] == "token":
        return True
    return words[-1] == "key" and len(words) > 1 and words[-2] in _KEY_QUALIFIERS


def secret_values_from_environment(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Values of variables like OPENAI_API_KEY or GITHUB_TOKEN: never written, whatever carries them."""
    environ = os.environ if environ is None else environ
    return tuple(
        sorted(
            value
            for name, value in environ.items()
            if is_secret_name(name) and len(value) >= MIN_SECRET_VALUE_LENGTH
        )
    )


@dataclass(frozen=True)
class Scrubber:
    """What to replace; `extend(...)` adds names and values to the defaults, never removes one."""

    headers: frozenset[str] = DEFAULT_HEADERS
    query_params: frozenset[str] = DEFAULT_QUERY_PARAMS
    fields: frozenset[str] = frozenset()  # extra JSON field names (exact, case-insensitive)
    values: tuple[str, ...] = field(default_factory=secret_values_from_environment)
    replacement: str = REPLACEMENT

    def extend(
        self,
        *,
        headers: Iterable[str] = (),
        query_params: Iterable[str] = (),
        fields: Iterable[str] = (),
        values: Iterable[str] = (),
    ) -> Scrubber:
        return replace(
            self,
            headers=self.headers | {h.lower() for h in headers},
            query_params=self.query_params | {q.lower() for q in query_params},
            fields=self.fields | {f.lower() for f in fields},
            values=tuple(sorted(set(self.values) | {v for v in values if v})),
        )

    # -- names ---------------------------------------------------------------------------------------

    def is_secret_header(self, name: str) -> bool:
        return name.lower() in self.headers or is_secret_name(name)

    def is_secret_param(self, name: str) -> bool:
        return name.lower() in self.query_params or self.is_secret_field(name)

    def is_secret_field(self, name: str) -> bool:
        return name.lower() in self.fields or is_secret_name(name)

    # -- parts ---------------------------------------------------------------------------------------

    def text(self, value: str) -> str:
        """`value` with every known secret value replaced."""
        for secret in self.values:
            if secret in value:
                value = value.replace(secret, self.replacement)
        return value

    def headers_of(self, headers: Headers) -> Headers:
        return {
            name: [
                self.replacement if self.is_secret_header(name) else self.text(v) for v in values
            ]
            for name, values in headers.items()
        }

    def url(self, url: str) -> str:
        parts = urlsplit(url)
        netloc = parts.netloc
        if "@" in netloc:  # user:password@host
            netloc = f"{self.replacement}@{netloc.rsplit('@', 1)[1]}"
        query = self.query(parts.query) if parts.query else parts.query
        return self.text(urlunsplit(parts._replace(netloc=netloc, query=query)))

    def query(self, query: str) -> str:
        pairs = parse_qsl(query, keep_blank_values=True)
        if not any(self.is_secret_param(k) for k, _ in pairs):
            return query
        scrubbed = [(k, self.replacement if self.is_secret_param(k) else v) for k, v in pairs]
        return urlencode(scrubbed, safe="<>")

    def json(self, value: Any) -> Any:
        """A copy of a JSON value with secret-named fields' strings replaced."""
        if isinstance(value, dict):
            return {k: self._field(k, v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, str):
            return self.text(value)
        return value

    def _field(self, name: str, value: Any) -> Any:
        if name in _NOT_SECRET_SUBTREES:
            return _map_strings(value, self.text)
        if self.is_secret_field(name):
            return _map_strings(value, lambda s: self.replacement if s else s)
        return self.json(value)

    # -- bodies and messages -------------------------------------------------------------------------

    def body(self, body: Body, content_type: str | None) -> Body:
        if body.kind == "json":
            return Body(kind="json", json=self.json(body.json))
        if body.kind == "text":
            if "x-www-form-urlencoded" in (content_type or ""):
                return Body(kind="text", text=self.query(body.text))
            return Body(kind="text", text=self.text(body.text))
        if body.kind == "chunks":
            chunks = [self._chunk(c) for c in body.chunks]
            return Body.streamed(chunks, body.delays_ms)
        return body

    def _chunk(self, chunk: bytes) -> bytes:
        """An SSE/NDJSON chunk with its JSON lines scrubbed; untouched bytes when nothing changed."""
        try:
            text = chunk.decode("utf-8")
        except UnicodeDecodeError:
            return chunk
        lines = text.split("\n")
        for i, line in enumerate(lines):
            prefix, payload = (
                ("data: ", line[5:].lstrip()) if line.startswith("data:") else ("", line)
            )
            if not payload.startswith(("{", "[")):
                continue
            try:
                data = json.loads(payload)
            except ValueError:
                continue
            scrubbed = self.json(data)
            if scrubbed != data:
                lines[i] = prefix + json.dumps(scrubbed, ensure_ascii=False, separators=(",", ":"))
        return self.text("\n".join(lines)).encode()

    def request(self, request: RecordedRequest) -> RecordedRequest:
        ctype = header(request.headers, "content-type")
        return RecordedRequest(
            method=request.method,
            url=self.url(request.url),
            headers=self.headers_of(request.headers),
            body=self.body(request.body, ctype),
        )

    def response(self, response: RecordedResponse) -> RecordedResponse:
        ctype = header(response.headers, "content-type")
        return RecordedResponse(
            status=response.status,
            headers=self.headers_of(response.headers),
            body=self.body(response.body, ctype),
            reason=response.reason,
        )

    def with_request_credentials(self, headers: Headers) -> Scrubber:
        """Also scrub the credentials this request carries, wherever a response might echo them."""
        found = []
        for name, values in headers.items():
            if self.is_secret_header(name):
                for value in values:
                    found.append(value)
                    found.extend(p for p in value.split() if len(p) >= MIN_SECRET_VALUE_LENGTH)
        new = [v for v in found if len(v) >= MIN_SECRET_VALUE_LENGTH and v not in self.values]
        return self.extend(values=new) if new else self


def _map_strings(value: Any, change: Any) -> Any:
    if isinstance(value, dict):
        return {k: _map_strings(v, change) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, change) for v in value]
    if isinstance(value, str):
        return change(value)
    return value
