"""Splitting a page's text into overlapping passages for retrieval.

Windows of about `size` characters that end, where possible, at a paragraph, sentence or word
boundary, each starting `overlap` characters before the previous one ended, so a sentence cut by
one boundary is whole in the neighbouring passage. Text without spaces (Chinese, Thai) is cut by
length.
"""

from __future__ import annotations

import re

CHUNK_SIZE = 1200
CHUNK_OVERLAP = 200

# Control characters (PDF fonts map glyphs to them; PostgreSQL refuses NUL) and lone surrogates.
_UNSTORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")
_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"[.!?。！？]\s"), re.compile(r"\s"))


def normalise_whitespace(text: str) -> str:
    """Control characters gone, runs of spaces collapsed, lines trimmed, one blank line at most."""
    text = _UNSTORABLE.sub(" ", text.replace("\r\n", "\n"))
    lines = [" ".join(line.split()) for line in text.split("\n")]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def chunk_text(text: str, *, size: int = CHUNK_SIZE, overlap: int = CHUNK_OVERLAP) -> list[str]:
    """Overlapping passages of at most `size` characters covering all of `text`."""
    if not 0 <= overlap < size:
        raise ValueError(f"overlap must be in [0, size): got overlap={overlap}, size={size}")
    text = normalise_whitespace(text)
    chunks: list[str] = []
    start = 0
    while start < len(text):
        end = _cut(text, start, size)
        chunk = text[start:end].strip()
        if chunk:
            chunks.append(chunk)
        if end >= len(text):
            break
        start = _next_start(text, start, end, overlap)
    return chunks


def _cut(text: str, start: int, size: int) -> int:
    """Where a window starting at `start` ends: the last good boundary in its second half."""
    limit = start + size
    if limit >= len(text):
        return len(text)
    floor = start + size // 2
    for pattern in _BREAKS:
        last = None
        for match in pattern.finditer(text, floor, limit):
            last = match
        if last is not None:
            return last.end()
    return limit


def _next_start(text: str, start: int, end: int, overlap: int) -> int:
    """`overlap` characters back from `end`, moved forward to the start of a word."""
    candidate = max(end - overlap, start + 1)
    space = text.find(" ", candidate, end)
    if 0 <= space < end - 1 and not text[candidate - 1].isspace():
        candidate = space + 1
    return candidate
