"""The triage model's reply: seed 001's `{labels, priority, comment}`, read leniently where a model
may reasonably differ, and the comment GitHub shows for it."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent_service.integrations.github.triage import (
    TriageResult,
    render_comment,
    response_format,
)


def test_the_seed_shape_without_a_summary() -> None:
    result = TriageResult.model_validate_json(
        '{"labels": ["bug"], "priority": "P1", "comment": "Login fails."}'
    )
    assert (result.labels, result.priority, result.text) == (["bug"], "P1", "Login fails.")
    assert result.summary is None


@pytest.mark.parametrize(
    ("given", "level"),
    [("P0", "P0"), ("p3", "P3"), (" P2 ", "P2"), ("critical", "P0"), ("High", "P1"), ("low", "P3")],
)
def test_priority_words_and_cases(given: str, level: str) -> None:
    result = TriageResult.model_validate({"labels": [], "priority": given, "comment": "x"})
    assert result.priority == level


@pytest.mark.parametrize("given", ["P4", "soon", "", 1, None])
def test_an_unknown_priority_is_refused(given: object) -> None:
    with pytest.raises(ValidationError):
        TriageResult.model_validate({"labels": [], "priority": given, "comment": "x"})


def test_labels_once_each_at_most_five() -> None:
    labels = ["bug", "Bug", " ui ", "", "a", "b", "c", "d", "e"]
    result = TriageResult.model_validate({"labels": labels, "priority": "P2"})
    assert result.labels == ["bug", "ui", "a", "b", "c"]


def test_labels_as_one_comma_separated_string() -> None:
    result = TriageResult.model_validate({"labels": "bug, docs", "priority": "P2"})
    assert result.labels == ["bug", "docs"]


@pytest.mark.parametrize("missing", ["labels", "priority"])
def test_labels_and_priority_are_required(missing: str) -> None:
    reply = {"labels": ["bug"], "priority": "P2", "comment": "x"}
    del reply[missing]
    with pytest.raises(ValidationError):
        TriageResult.model_validate(reply)


def test_comment_first_then_summary() -> None:
    both = TriageResult.model_validate(
        {"labels": [], "priority": "P2", "comment": " C ", "summary": "S"}
    )
    assert both.text == "C"
    assert TriageResult.model_validate({"labels": [], "priority": "P2", "summary": "S"}).text == "S"
    assert TriageResult.model_validate({"labels": [], "priority": "P2"}).text == ""


def test_the_comment_names_the_priority_and_labels() -> None:
    result = TriageResult(labels=["bug", "ui"], priority="P1", comment="Broken button.")
    assert render_comment(result) == (
        "AI Triage: priority **P1**\n\nBroken button.\n\nSuggested labels: `bug`, `ui`\n\n"
        "_This is an automated first look; a maintainer will follow up._"
    )


def test_the_comment_does_not_repeat_a_prefix_the_model_wrote() -> None:
    result = TriageResult(labels=[], priority="P3", comment="ai triage:  Minor typo.")
    assert render_comment(result) == (
        "AI Triage: priority **P3**\n\nMinor typo.\n\n"
        "_This is an automated first look; a maintainer will follow up._"
    )


def test_the_model_is_asked_for_the_seed_shape_in_strict_mode() -> None:
    spec = response_format()["json_schema"]
    assert spec["strict"] is True
    assert spec["schema"]["required"] == ["labels", "priority", "comment"]
    assert spec["schema"]["additionalProperties"] is False
    assert spec["schema"]["properties"]["priority"]["enum"] == ["P0", "P1", "P2", "P3"]
