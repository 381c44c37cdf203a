"""Reading a request's words: titles, names, lists, priorities, the words that matter for a search."""

from __future__ import annotations

import re

from agent_service.documents.textsearch import STOPWORDS

MAX_TITLE = 120
_QUOTED = re.compile(r"[\"“'‘]([^\"”'’]{1,200})[\"”'’]")
_PRIORITY_WORDS = {
    "high": ("high priority", "high-priority", "urgent", "important", "asap", "critical"),
    "low": ("low priority", "low-priority", "someday", "whenever", "not urgent"),
}
_FILLER = re.compile(
    r"^(?:(?:a|an|the|new|my|me|please|high-priority|low-priority|high|low|medium|urgent|"
    r"important|priority|tasks|task|todo|to-do|item|called|named|titled|to|for|that)"
    r"(?:\s+|$|(?=[:\-]))|[:\-]\s*)+",
    re.IGNORECASE,
)
_TRAILING = re.compile(
    r"\s*(?:,?\s*(?:with\s+)?(?:high|low|medium)(?:[- ]priority)?|\s+please|[.!?]+)\s*$",
    re.IGNORECASE,
)


def quoted(text: str) -> list[str]:
    """Every 'quoted' or "quoted" phrase, in order."""
    return [match.strip() for match in _QUOTED.findall(text) if match.strip()]


def priority_in(text: str) -> str | None:
    lowered = text.lower()
    for priority, words in _PRIORITY_WORDS.items():
        if any(word in lowered for word in words):
            return priority
    return None


def clean_title(text: str) -> str:
    """'a high-priority task to write the report please.' -> 'Write the report'."""
    title = text.strip()
    for _ in range(3):
        title = _TRAILING.sub("", _FILLER.sub("", title)).strip(" :-,.")
    title = title[:MAX_TITLE].strip()
    return title[:1].upper() + title[1:]


def split_items(text: str) -> list[str]:
    """'design, build and ship' -> ['Design', 'Build', 'Ship'] (at most 10)."""
    parts = re.split(r"\s*(?:,|;|\band\b|\n)\s*", text.strip(" .:"))
    return [clean_title(part) for part in parts if clean_title(part)][:10]


def after(text: str, pattern: str) -> str | None:
    """The text after the first match of `pattern` (case-insensitive), or None."""
    match = re.search(pattern, text, re.IGNORECASE)
    return text[match.end() :].strip() if match else None


def keywords(text: str) -> set[str]:
    """Lower-case words of three letters or more that are not stopwords."""
    return {w for w in re.findall(r"\w{3,}", text.lower()) if w not in STOPWORDS}


def overlap(a: str, b: str) -> int:
    return len(keywords(a) & keywords(b))


def best_sentence(text: str, question: str, *, limit: int = 400) -> str:
    """The sentence of `text` sharing the most words with `question` (the first on a tie)."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n{2,}", text) if s.strip()]
    if not sentences:
        return ""
    best = max(sentences, key=lambda s: (overlap(s, question), -sentences.index(s)))
    best = " ".join(best.split())
    return best if len(best) <= limit else best[: limit - 1].rstrip() + "…"
