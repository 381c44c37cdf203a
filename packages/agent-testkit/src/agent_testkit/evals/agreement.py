"""How far to trust the judge: its verdicts on labelled conversations against the verdicts a person
gave, per rubric, as accuracy and Cohen's kappa (agreement beyond what chance gives: 1 perfect, 0 no
better than guessing from the base rates, below 0 worse).

A labelled set is a YAML file:

    rubrics:
      cites-source: The answer names the document it used and quotes or paraphrases it correctly.
    cases:
      - id: cites-handbook-ok
        rubric: cites-source
        turns:
          - user: How many remote days may I take?
            tool_calls: [{name: search_documents, arguments: {query: remote}, result: {...}}]
            reply: Two per week, says handbook.md ("up to two remote days a week").
        human: pass                                  # the person's verdict: pass or fail
        judge: {score: 0.9, reasoning: Cites it.}    # the scripted judge's answer, for offline runs

The judge grades each case with the same prompt and pass score (0.7) as the `llm_judge` grader.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from agent_testkit.evals.cases import CaseFormatError
from agent_testkit.evals.graders.judge import JudgeError, JudgeVerdict
from agent_testkit.evals.kappa import cohen_kappa, kappa_interval
from agent_testkit.evals.stats import Interval
from agent_testkit.evals.transcript import ToolCallRecord, Transcript, Turn

PASS_SCORE = 0.7
VERDICTS = {"pass": True, "fail": False}
_ID = re.compile(r"^[a-z0-9][a-z0-9._-]*$")

Judge = Callable[[str, Transcript], Awaitable[JudgeVerdict]]


@dataclass(frozen=True)
class JudgeCase:
    """A conversation, the rubric it is judged by, and the verdict a person gave."""

    id: str
    rubric: str  # the rubric's name
    rubric_text: str
    transcript: Transcript
    human: bool  # True: the person said it passes
    scripted: Mapping[str, Any] = field(default_factory=dict)  # the scripted judge's answer
    hard: bool = False  # a near miss, labelled as such (`hard: true`)


def load_judge_cases(path: str | Path) -> list[JudgeCase]:
    """The labelled cases of a file; CaseFormatError names what is wrong."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise CaseFormatError(f"{path}: cannot read the labelled judge cases: {exc}") from exc
    if not isinstance(data, Mapping) or set(data) != {"rubrics", "cases"}:
        raise CaseFormatError(f"{path}: expected `rubrics:` and `cases:`")
    rubrics = {str(k): str(v).strip() for k, v in (data["rubrics"] or {}).items()}
    found, seen = [], set()
    for n, entry in enumerate(data["cases"] or [], start=1):
        case = _judge_case(entry, rubrics, f"{path.name}#{n}")
        if case.id in seen:
            raise CaseFormatError(f"{path.name}#{n}: case id {case.id!r} is used twice")
        seen.add(case.id)
        found.append(case)
    return found


def _judge_case(entry: Any, rubrics: Mapping[str, str], where: str) -> JudgeCase:
    if not isinstance(entry, Mapping):
        raise CaseFormatError(f"{where}: a case is a mapping")
    case_id, rubric = str(entry.get("id", "")), str(entry.get("rubric", ""))
    if not _ID.match(case_id):
        raise CaseFormatError(f"{where}: `id` must be lower-case letters, digits, '.', '-', '_'")
    if rubric not in rubrics:
        raise CaseFormatError(f"{where} ({case_id}): unknown rubric {rubric!r}")
    human = str(entry.get("human", "")).lower()
    if human not in VERDICTS:
        raise CaseFormatError(f"{where} ({case_id}): `human` must be pass or fail")
    turns = entry.get("turns")
    if not isinstance(turns, list) or not turns:
        raise CaseFormatError(f"{where} ({case_id}): `turns` must be a non-empty list")
    return JudgeCase(
        case_id,
        rubric,
        rubrics[rubric],
        Transcript(turns=[_turn(t, where) for t in turns]),
        VERDICTS[human],
        dict(entry.get("judge") or {}),
        bool(entry.get("hard", False)),
    )


def _turn(entry: Any, where: str) -> Turn:
    if not isinstance(entry, Mapping) or "user" not in entry or "reply" not in entry:
        raise CaseFormatError(f"{where}: a turn needs `user` and `reply`")
    calls = [
        ToolCallRecord(
            str(c["name"]), c.get("arguments", {}), c.get("result"), bool(c.get("error", False))
        )
        for c in entry.get("tool_calls") or []
    ]
    return Turn(str(entry["user"]), 200, reply=str(entry["reply"]), tool_calls=calls)


@dataclass(frozen=True)
class JudgedCase:
    case: JudgeCase
    score: float | None  # None: the judge gave no verdict
    reasoning: str

    @property
    def judge_passed(self) -> bool:
        return self.score is not None and self.score >= PASS_SCORE

    @property
    def agrees(self) -> bool:
        return self.judge_passed == self.case.human


@dataclass(frozen=True)
class RubricAgreement:
    rubric: str
    text: str
    cases: int
    accuracy: float
    kappa: float | None
    disagreements: list[str]
    interval: Interval | None = None  # kappa's 95% interval
    passes: int = 0  # cases the person passed

    @property
    def kappa_low(self) -> float | None:
        return None if self.interval is None else self.interval.low

    def to_json(self) -> dict[str, Any]:
        return {
            "rubric": self.rubric,
            "text": self.text,
            "cases": self.cases,
            "accuracy": round(self.accuracy, 3),
            "kappa": None if self.kappa is None else round(self.kappa, 3),
            "kappa_interval": None
            if self.interval is None
            else [round(self.interval.low, 3), round(self.interval.high, 3)],
            "human_passes": self.passes,
            "disagreements": self.disagreements,
        }


def agreement(judged: Sequence[JudgedCase]) -> list[RubricAgreement]:
    """Per rubric (and `all`): accuracy and kappa of the judge against the people."""
    groups: dict[str, list[JudgedCase]] = {}
    for item in judged:
        groups.setdefault(item.case.rubric, []).append(item)
    rows = [_row(name, items[0].case.rubric_text, items) for name, items in sorted(groups.items())]
    if len(groups) > 1:
        rows.append(_row("all", "every rubric together", list(judged)))
    return rows


def _row(name: str, text: str, items: Sequence[JudgedCase]) -> RubricAgreement:
    pairs = [(i.judge_passed, i.case.human) for i in items]
    return RubricAgreement(
        name,
        text,
        len(items),
        sum(i.agrees for i in items) / len(items),
        cohen_kappa(pairs),
        [
            f"{i.case.id}: person said {'pass' if i.case.human else 'fail'}, judge "
            + ("gave no verdict" if i.score is None else f"{i.score:.2f}")
            + (f" ({i.reasoning})" if i.reasoning else "")
            for i in items
            if not i.agrees
        ],
        kappa_interval(pairs),
        sum(i.case.human for i in items),
    )


async def judge_all(cases: Sequence[JudgeCase], judge: Judge) -> list[JudgedCase]:
    """Each case through the judge, one at a time (cassettes replay in order); a failed call is
    a case without a verdict (counted as a disagreement when the person said pass)."""
    judged = []
    for case in cases:
        try:
            verdict = await judge(case.rubric_text, case.transcript)
        except JudgeError as exc:
            judged.append(JudgedCase(case, None, str(exc)))
            continue
        judged.append(JudgedCase(case, verdict.score, verdict.reasoning))
    return judged
