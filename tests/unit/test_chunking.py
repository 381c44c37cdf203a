"""Chunking: overlapping windows that cover the whole text, cut at natural boundaries."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_service.documents.chunking import chunk_text, normalise_whitespace


def test_a_short_text_is_one_chunk() -> None:
    assert chunk_text("  Hello,\n\n\n\n   world!  ") == ["Hello,\n\nworld!"]
    assert chunk_text("") == []
    assert chunk_text(" \n\t ") == []


def test_chunks_overlap_and_end_at_sentences() -> None:
    sentences = [f"Sentence number {i} says something about topic {i % 7}." for i in range(120)]
    chunks = chunk_text(" ".join(sentences), size=400, overlap=80)

    assert len(chunks) > 10
    assert all(len(c) <= 400 for c in chunks)
    assert all(c.endswith(".") for c in chunks[:-1])  # cut after a sentence, not mid-word
    for before, after in itertools.pairwise(chunks):
        assert after.split()[0] in before  # each starts inside the previous one: the overlap


def test_text_without_spaces_is_cut_by_length() -> None:
    chunks = chunk_text("你好世界" * 500, size=300, overlap=50)
    assert all(len(c) <= 300 for c in chunks)
    assert "".join(c[50:] if i else c for i, c in enumerate(chunks)).startswith("你好世界" * 70)


def test_control_characters_and_nul_bytes_are_removed() -> None:
    assert normalise_whitespace("a\x00b\x15c\x7fd\ud800e\r\nf") == "a b c d e\nf"


def test_overlap_must_be_smaller_than_the_size() -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("text", size=100, overlap=100)


words = st.lists(
    st.text(
        alphabet=st.characters(codec="utf-8", categories=("L", "N", "P")), min_size=1, max_size=15
    ),
    min_size=1,
    max_size=400,
)


@settings(max_examples=80, deadline=None)
@given(words=words, size=st.integers(40, 600), overlap_share=st.floats(0, 0.5))
def test_every_word_is_in_some_chunk_and_no_chunk_is_too_long(
    words: list[str], size: int, overlap_share: float
) -> None:
    overlap = int(size * overlap_share)
    text = " ".join(words)
    chunks = chunk_text(text, size=size, overlap=overlap)

    assert all(0 < len(c) <= size for c in chunks)
    joined = "\n".join(chunks)
    assert all(word in joined for word in text.split())
