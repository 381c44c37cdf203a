"""Subset matching for expectations: tool arguments, items of an API listing, whole bodies.

An expected mapping matches when each of its keys matches in the actual one (other keys are free); an
expected list matches when each of its items matches some actual item; anything else must be equal.
A mapping with exactly one of these keys is a matcher instead, for what a live model phrases freely:

    {regex: "(?i)passport"}   {contains: "passport"}   {one_of: [high, medium]}
    {gte: 1}   {lte: 10}   {any: true}   {absent: true}   (the key must be missing)
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

MATCHERS = ("regex", "contains", "one_of", "gte", "lte", "any", "absent")
_MISSING = object()


def mismatch(expected: Any, actual: Any, path: str = "") -> str | None:
    """Why `actual` does not match `expected` (a sentence naming the path), or None when it does."""
    where = path or "value"
    if _is_matcher(expected):
        return _matcher(expected, actual, where)
    if actual is _MISSING:
        return f"{where} is missing (expected {expected!r})"
    if isinstance(expected, Mapping):
        if not isinstance(actual, Mapping):
            return f"{where} is {actual!r}, expected a mapping"
        for key, value in expected.items():
            found = mismatch(value, actual.get(key, _MISSING), f"{path}.{key}" if path else key)
            if found:
                return found
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where} is {actual!r}, expected a list"
        for index, item in enumerate(expected):
            if not any(mismatch(item, candidate) is None for candidate in actual):
                return f"{where}[{index}]: no item matches {item!r}"
        return None
    if expected != actual:
        return f"{where} is {actual!r}, expected {expected!r}"
    return None


def matches(expected: Any, actual: Any) -> bool:
    return mismatch(expected, actual) is None


def _is_matcher(value: Any) -> bool:
    return isinstance(value, Mapping) and len(value) == 1 and next(iter(value)) in MATCHERS


def _matcher(spec: Mapping[str, Any], actual: Any, where: str) -> str | None:
    ((kind, operand),) = spec.items()
    if kind == "absent":
        present = actual is not _MISSING
        return f"{where} is {actual!r}, expected it absent" if present and operand else None
    if actual is _MISSING:
        return f"{where} is missing (expected {kind} {operand!r})"
    if kind == "any":
        return None
    if kind == "one_of":
        return None if actual in operand else f"{where} is {actual!r}, expected one of {operand!r}"
    if kind in ("gte", "lte"):
        ok = isinstance(actual, int | float) and (
            actual >= operand if kind == "gte" else actual <= operand
        )
        return None if ok else f"{where} is {actual!r}, expected {kind} {operand!r}"
    text = actual if isinstance(actual, str) else str(actual)
    if kind == "contains":
        found = str(operand).lower() in text.lower()
        return None if found else f"{where} is {actual!r}, expected it to contain {operand!r}"
    found = re.search(str(operand), text) is not None
    return None if found else f"{where} is {actual!r}, expected a match for /{operand}/"
