"""Integers and JSON from outside, bounded before they reach the parser or the database.

The one place that says what a number or a JSON document from a client (or GitHub) may be:

- an integer stored in or compared with an `Integer` column must fit PostgreSQL's 32-bit integer
  (SQLite's is 64-bit): `INT_MAX` is the narrower one, so SQLite and PostgreSQL refuse the same
  values with the same 4xx instead of one storing what the other answers 500 to;
  `parse_header_int` reads a number from a header (`Last-Event-ID`) within it;
- a JSON document may nest at most `MAX_JSON_DEPTH` levels: Python's parser recurses, and
  100,000 brackets are a `RecursionError` (a 500), so depth is counted on the raw bytes first;
- its numbers are finite (`NaN`, `Infinity` and `1e400` are no JSON a database can store) and
  its integers fit 64 bits;
- a NUL in a text field is the schema's to refuse (`text.Text`: 422 with the field, the rule
  published as a `pattern`); in free-form JSON (metadata) it is stored as sent, in a JSON column
  on both databases. The GitHub webhook, which has no schema, refuses NUL anywhere.

`json_problem(body)` finds the first such problem in a request body (the `JsonBodyCheck`
middleware answers 400 `invalid_json` with it: a rule no schema states); `load_json(body)` parses
a body that has none, NUL included (the webhook).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

INT_MIN, INT_MAX = -(2**31), 2**31 - 1  # an Integer column on PostgreSQL (SQLite: 64 bits)
BIGINT_MIN, BIGINT_MAX = -(2**63), 2**63 - 1
MAX_JSON_DEPTH = 64
NUL_MESSAGE = "must not contain NUL characters (\\u0000)"

# A JSON string (escapes included) or a bracket: what the depth count walks over.
_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.DOTALL)
# What a body may hold that only a full parse can place: a non-finite constant, a long number
# or a large exponent. A body without any of them needs no parse here.
_SUSPECT = re.compile(rb"NaN|Infinity|\d{19}|[eE][+-]?\d{3}")


class UnsafeJson(ValueError):
    """A JSON document the service refuses; `field` says where (dotted, like a 422's)."""

    def __init__(self, message: str, field: str = "body") -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def parse_header_int(
    text: str | None, *, name: str, minimum: int = 0, maximum: int = INT_MAX
) -> int | None:
    """The integer in a header, None when absent or blank; `ValueError` (with a sentence) when
    it is not a whole number from `minimum` to `maximum`."""
    if text is None or not text.strip():
        return None
    stripped = text.strip()
    if not stripped.lstrip("-").isdigit() or len(stripped) > 20:
        raise ValueError(f"{name} must be a whole number, not {text[:40]!r}.")
    value = int(stripped)
    if not minimum <= value <= maximum:
        raise ValueError(f"{name} must be from {minimum} to {maximum}, not {stripped}.")
    return value


def json_depth_exceeds(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the document nests deeper than `limit`, counted without parsing it."""
    if body.count(b"[") + body.count(b"{") <= limit:
        return False  # fewer brackets than levels: cannot be too deep
    depth = 0
    for match in _TOKENS.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif token in (b"]", b"}"):
            depth -= 1
    return False


def json_problem(body: bytes) -> UnsafeJson | None:
    """The first reason to refuse a JSON request body, or None (not JSON at all is None too:
    the route's own parser answers that)."""
    if json_depth_exceeds(body):
        return UnsafeJson(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if _SUSPECT.search(body) is None:
        return None
    try:
        load_json(body, refuse_nul=False)
    except UnsafeJson as problem:
        return problem
    except ValueError:
        return None
    return None


def load_json(body: bytes | str, *, refuse_nul: bool = True) -> Any:
    """The document, parsed only once it is known to be shallow; `UnsafeJson` for a non-finite
    number, an integer past 64 bits or (`refuse_nul`) a NUL in any string or key; `ValueError`
    when it is not JSON."""
    raw = body.encode() if isinstance(body, str) else body
    if json_depth_exceeds(raw):
        raise UnsafeJson(f"nested deeper than {MAX_JSON_DEPTH} levels")
    value = json.loads(raw, parse_constant=_refuse_constant, parse_float=_finite, parse_int=_int64)
    if refuse_nul:
        _refuse_nul(value, ())
    return value


def _refuse_constant(name: str) -> Any:
    raise UnsafeJson(f"{name} is not a number JSON allows")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeJson(f"the number {text[:40]} is too large")
    return value


def _int64(text: str) -> int:
    if len(text) > 20:
        raise UnsafeJson(f"the integer {text[:20]}... is too large")
    value = int(text)
    if not BIGINT_MIN <= value <= BIGINT_MAX:
        raise UnsafeJson(f"the integer {text} is outside 64 bits")
    return value


def _refuse_nul(value: Any, path: tuple[str, ...]) -> None:
    """Depth is bounded by `MAX_JSON_DEPTH`, so the recursion is too."""
    if isinstance(value, str):
        if "\x00" in value:
            raise UnsafeJson(NUL_MESSAGE, ".".join(path) or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            if "\x00" in key:
                raise UnsafeJson(f"a key {NUL_MESSAGE}", ".".join(path) or "body")
            _refuse_nul(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _refuse_nul(item, (*path, str(index)))
