"""Issue triage by keywords, answered in whatever JSON schema the request asks for.

The structured-output request carries its schema (`response_format.json_schema.schema`); the demo
fills each property it knows (priority, labels, comment, summary) so the reply validates whatever
the service's current schema is.
"""

from __future__ import annotations

import re
from typing import Any

_LABELS = (
    ("security", ("security", "vulnerab", "xss", "injection", "csrf", "leak", "exploit", "cve")),
    ("bug", ("bug", "crash", "error", "broken", "fail", "exception", "traceback", "wrong", "500")),
    ("performance", ("slow", "performance", "latency", "memory", "timeout", "hangs")),
    ("documentation", ("docs", "documentation", "readme", "typo", "guide")),
    ("enhancement", ("feature", "support for", "would be nice", "add ", "enhancement", "allow")),
    ("question", ("how do i", "how to", "question", "is it possible", "?")),
)
_PRIORITIES = (
    (
        "P0",
        ("security", "data loss", "outage", "down for everyone", "vulnerab", "production is down"),
    ),
    ("P1", ("crash", "broken", "cannot", "can't", "fails", "500", "no workaround")),
    ("P2", ("bug", "error", "wrong", "slow", "workaround")),
)
_REFERENCE = re.compile(r"\b([\w.-]+/[\w.-]+)(?:#|\s+(?:issue|pr|pull request)\s*#?)(\d+)\b", re.I)


def requested_schema(request: dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema of a structured-output request, or None for a plain chat request."""
    response_format = request.get("response_format") or {}
    if response_format.get("type") != "json_schema":
        return None
    schema = (response_format.get("json_schema") or {}).get("schema")
    return schema if isinstance(schema, dict) else {}


def issue_text(prompt: str) -> str:
    """The issue's title and body from the triage prompt, without the repository metadata."""
    lines = [
        line for line in prompt.splitlines() if not line.startswith(("Repository:", "Author:"))
    ]
    return "\n".join(lines)


def labels_for(text: str) -> list[str]:
    lowered = text.lower()
    found = [label for label, words in _LABELS if any(word in lowered for word in words)]
    return found[:5] or ["question"]


def priority_for(text: str) -> str:
    lowered = text.lower()
    return next((p for p, words in _PRIORITIES if any(w in lowered for w in words)), "P3")


def title_of(prompt: str) -> str:
    match = re.search(r"^Issue #\d+: (.*)$", prompt, re.MULTILINE)
    return match.group(1).strip() if match else "this issue"


def triage(prompt: str, schema: dict[str, Any]) -> dict[str, Any]:
    """A reply valid for `schema`: the known fields filled from keywords, others left out."""
    text = issue_text(prompt)
    labels, priority = labels_for(text), priority_for(text)
    sentence = (
        f"Reported: {title_of(prompt)}. Looks like {' and '.join(labels)} at {priority}; "
        "triaged by the offline demo model from keywords, so a maintainer should confirm."
    )
    values: dict[str, Any] = {
        "priority": priority,
        "labels": labels,
        "comment": sentence,
        "summary": sentence,
    }
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return {k: values[k] for k in ("labels", "priority", "comment")}
    reply = {name: values[name] for name in properties if name in values}
    for name in schema.get("required") or []:
        reply.setdefault(name, "")
    return _fit_enum(reply, properties)


def _fit_enum(reply: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """A priority outside the schema's enum (say, low/medium/high) becomes its nearest member."""
    allowed = (properties.get("priority") or {}).get("enum")
    if allowed and reply.get("priority") not in allowed:
        rank = ["P0", "P1", "P2", "P3"].index(reply["priority"])
        reply["priority"] = allowed[min(rank * len(allowed) // 4, len(allowed) - 1)]
    return reply


def github_reference(text: str) -> tuple[str, int] | None:
    """('owner/repo', 12) from "owner/repo#12" or "owner/repo issue 12"."""
    match = _REFERENCE.search(text)
    return (match.group(1), int(match.group(2))) if match else None
