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


def _whole(sentence: str) -> bool:
    """A sentence a person would quote: some words, ending as a sentence ends, no dot leaders."""
    words = sentence.split()
    return len(words) >= 4 and sentence.rstrip()[-1:] in ".!?:" and "...." not in sentence


def best_sentence(text: str, question: str, *, limit: int = 400) -> str:
    """The sentence of `text` sharing the most words with `question` (the first on a tie)."""
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n{2,}", text) if s.strip()]
    if not sentences:
        return ""
    best = max(sentences, key=lambda s: (overlap(s, question), _whole(s), -sentences.index(s)))
    best = " ".join(best.split())
    return best if len(best) <= limit else best[: limit - 1].rstrip() + "…"


def edit_distance(a: str, b: str) -> int:
    """Optimal string alignment distance: insertions, deletions, substitutions and swaps of two
    neighbours each count one ('taks' is one from 'task')."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            cost = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                cost = min(cost, previous2[j - 2] + 1)
            current.append(cost)
        previous2, previous = previous, current
    return previous[-1]


def near(word: str, known: str) -> bool:
    """A small typo apart: one edit for short words, two from eight letters on."""
    if abs(len(word) - len(known)) > 2 or (word[:1] != known[:1] and len(word) < 5):
        return False
    return edit_distance(word, known) <= (2 if len(known) >= 8 else 1)


#: The words the rules look for; a typo of one of them is read as the word.
VOCABULARY = (
    "add", "create", "make", "new", "task", "tasks", "todo", "remind", "project", "projects",
    "list", "show", "delete", "remove", "complete", "finish", "done", "mark", "close", "rename",
    "retitle", "change", "title", "name", "set", "priority", "high", "low", "medium", "urgent",
    "important", "move", "put", "file", "progress", "start", "working",
)  # fmt: skip
_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


_HEAD_WORDS = 3  # a request's verb and object come first: "ad a taks to ..."
_PRIORITY_LEVELS = ("high", "low", "medium", "urgent")


def _known(word: str) -> str | None:
    lowered = word.lower()
    if lowered in VOCABULARY or lowered in STOPWORDS or len(lowered) < 2:
        return None
    return next((known for known in VOCABULARY if near(lowered, known)), None)


def corrected(text: str) -> str:
    """`text` with small typos of the rules' own words fixed ('ad a taks' -> 'add a task').

    Only where the rules read them, so a title keeps its words ('shovel snow' is not 'show'):
    the first three words, "priority", and a level next to it ('hihg priority').
    """
    quoted_spans = [m.span() for m in _QUOTED.finditer(text)]
    matches = [
        m for m in _WORD.finditer(text) if not any(a <= m.start() < b for a, b in quoted_spans)
    ]
    fixes = [_known(m.group(0)) for m in matches]
    words = [(fix or m.group(0)).lower() for m, fix in zip(matches, fixes, strict=True)]
    out, last = [], 0
    for index, (match, fix) in enumerate(zip(matches, fixes, strict=True)):
        neighbours = words[max(0, index - 1) : index] + words[index + 1 : index + 2]
        wanted = (
            index < _HEAD_WORDS
            or fix == "priority"
            or (fix in _PRIORITY_LEVELS and "priority" in neighbours)
        )
        if fix is not None and wanted:
            out += [text[last : match.start()], fix]
            last = match.end()
    return "".join(out) + text[last:]


def fuzzy_overlap(title: str, target: str) -> int:
    """How many of `target`'s words are in `title`, a small typo allowed in each."""
    have = keywords(title)
    return sum(1 for word in keywords(target) if any(w == word or near(word, w) for w in have))
