"""Folding text for search, and the queries built from a question."""

from __future__ import annotations

import pytest

from agent_service.documents.retrieval import excerpt
from agent_service.documents.textsearch import fts5_query, query_phrases, search_form, tsquery


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Einführung in die Topologie", "einfuhrung in die topologie"),
        ("0. Auﬂage", "0 auflage"),  # the ligature becomes two letters
        ("حَبيبي habibi", "حبيبي habibi"),  # vowel marks dropped
        ("你好世界", "你 好 世 界"),  # one word per character
        ("สวัสดี", "ส ว ส ด"),
        ("Привет, мир!", "привет мир"),
        ("e-mail: a_b@c.de", "e mail a b c de"),
    ],
)
def test_search_form(text: str, folded: str) -> None:
    assert search_form(text) == folded


def test_questions_become_phrases_without_common_words() -> None:
    assert query_phrases("What is the launch code of 世界?") == [
        ("launch",),
        ("code",),
        ("世", "界"),
    ]
    assert query_phrases("What is it?") == [("what",), ("is",), ("it",)]  # nothing else left
    assert query_phrases("!!!") == []
    assert len(query_phrases(" ".join(f"word{i}" for i in range(100)))) == 32


def test_queries_per_engine() -> None:
    phrases = [("launch",), ("世", "界")]
    assert fts5_query(phrases) == '"launch" OR "世 界"'
    assert tsquery(phrases) == "('launch') | ('世' <-> '界')"


def test_an_excerpt_is_a_window_around_the_question() -> None:
    text = "Filler words here. " * 40 + "The launch code is PINEAPPLE-42. " + "More filler. " * 40
    window = excerpt(text, "What is the launch code?", width=120)
    assert "launch code is PINEAPPLE-42" in window
    assert window.startswith("…") and window.endswith("…")
    assert len(window) <= 122
    assert excerpt("Short text.", "anything") == "Short text."
