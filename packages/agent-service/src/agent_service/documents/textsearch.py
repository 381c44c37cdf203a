"""One folding of text for both full-text engines, and the queries built from a question.

SQLite's FTS5 and PostgreSQL's `simple` configuration each split words differently and know nothing
of scripts written without spaces. So we fold text once, here, and index that: NFKC (ligatures such
as "ﬂ" become "fl"), case-folded, combining marks dropped ("für" matches "fur", Arabic with or
without its vowel marks), and every character of Chinese, Japanese, Thai, Lao, Khmer and Burmese
made a word of its own, so a phrase of adjacent characters finds any run inside a sentence.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

MAX_QUERY_TERMS = 32

_SEGMENTED_RANGES = (
    (0x0E00, 0x0EFF),  # Thai, Lao
    (0x1000, 0x109F),  # Myanmar
    (0x1780, 0x17FF),  # Khmer
    (0x3040, 0x30FF),  # Hiragana, Katakana
    (0x3400, 0x4DBF),  # CJK extension A
    (0x4E00, 0x9FFF),  # CJK unified ideographs
    (0xF900, 0xFAFF),  # CJK compatibility ideographs
    (0x20000, 0x2FA1F),  # CJK extensions B-F, supplement
)

_STOPWORDS = """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me more
    most my no nor not now of off on once only or other our ours out over own please same she
    should so some such tell than that the their theirs them then there these they this those
    through to too under until up very was we were what when where which while who whom why will
    with would you your yours"""
STOPWORDS = frozenset(_STOPWORDS.split())

Phrase = tuple[str, ...]


def _segmented(ch: str) -> bool:
    code = ord(ch)
    return any(low <= code <= high for low, high in _SEGMENTED_RANGES)


class _FoldTable(dict[int, str]):
    """`str.translate` table filled on first sight of each character: the loop stays in C."""

    def __missing__(self, code: int) -> str:
        ch = chr(code)
        if unicodedata.category(ch) == "Mn":
            folded = ""  # a combining mark: dropped
        elif _segmented(ch):
            folded = f" {ch} "  # a word of its own
        elif ch.isalnum():
            folded = ch
        else:
            folded = " "
        self[code] = folded
        return folded


_FOLD = _FoldTable()


def search_form(text: str) -> str:
    """`text` folded for indexing and querying: words separated by single spaces."""
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(unicodedata.normalize("NFC", folded.translate(_FOLD)).split())


def query_phrases(question: str) -> list[Phrase]:
    """The question's search terms: words, and runs of unsegmented script as phrases.

    Common English words are dropped unless nothing else is left; at most 32 terms, no repeats.
    """
    phrases: list[Phrase] = []
    run: list[str] = []
    for token in search_form(question).split():
        if len(token) == 1 and _segmented(token):
            run.append(token)
            continue
        if run:
            phrases.append(tuple(run))
            run = []
        phrases.append((token,))
    if run:
        phrases.append(tuple(run))
    meaningful = [p for p in phrases if not (len(p) == 1 and p[0] in STOPWORDS)]
    unique = list(dict.fromkeys(meaningful or phrases))
    return unique[:MAX_QUERY_TERMS]


def fts5_query(phrases: Sequence[Phrase]) -> str:
    """An FTS5 MATCH expression: any of the phrases (tokens are alphanumeric, so quoting is safe)."""
    return " OR ".join('"' + " ".join(phrase) + '"' for phrase in phrases)


def tsquery(phrases: Sequence[Phrase]) -> str:
    """A PostgreSQL `to_tsquery` expression: any of the phrases, each a `<->` sequence."""
    return " | ".join(
        "(" + " <-> ".join(f"'{token}'" for token in phrase) + ")" for phrase in phrases
    )
