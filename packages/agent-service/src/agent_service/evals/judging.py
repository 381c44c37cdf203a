"""`agent-service eval judge-agreement`: the judge of `llm_judge` graders on the labelled cases of
`evals/judge/labelled.yaml`, its verdicts against people's, per rubric.

The judge's side, by `--model`: `scripted` (each case's `judge:` answer, played by the kit's fake:
exercises the pipeline offline, measures nothing about a real model), `replay` (the judge's calls
recorded in a cassette), `live` (the configured model; with `--record` its answers are cached in
the cassette, so a second run asks only what is new).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from agent_service.evals.model_side import ModelMode, recorded_endpoint
from agent_service.evals.sandbox import LLMEndpoint
from agent_testkit.cassettes import CassetteError, use_cassette
from agent_testkit.evals import JUDGE_SYSTEM_PROMPT, Case, LLMJudge, script_items
from agent_testkit.evals.agreement import (
    PASS_SCORE,
    JudgeCase,
    RubricAgreement,
    agreement,
    judge_all,
)
from agent_testkit.evals.judge_check import (
    JudgeCalibration,
    JudgeCheck,
    check_judge,
    fingerprint,
    load_calibrations,
)
from agent_testkit.fake_llm import FakeLLM
from agent_testkit.fake_llm.interception import install, uninstall

SCRIPTED_JUDGE_URL = "http://judge-agreement.fake-llm.test/v1"
JUDGE_TIMEOUT_S = 120.0
SCRIPTED_JUDGE_MODEL = "fake-judge"  # the scripted judge's name, in runs and in calibrations


@dataclass(frozen=True)
class AgreementRun:
    model: str
    rows: list[RubricAgreement]

    @property
    def overall(self) -> RubricAgreement:
        """Every labelled case together (the row the gate trusts or refuses)."""
        return self.rows[-1]

    def calibration(self, labelled: bytes, measured_at: str) -> JudgeCalibration:
        row = self.overall
        interval = row.interval
        return JudgeCalibration(
            self.model,
            row.cases,
            None if row.kappa is None else round(row.kappa, 3),
            None if interval is None else round(interval.low, 3),
            None if interval is None else round(interval.high, 3),
            fingerprint(labelled),
            fingerprint(JUDGE_SYSTEM_PROMPT),
            measured_at,
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "judge": {"model": self.model, "system_prompt": JUDGE_SYSTEM_PROMPT},
            "pass_score": PASS_SCORE,
            "rubrics": [row.to_json() for row in self.rows],
        }

    def write(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=2, ensure_ascii=False) + "\n", "utf-8")
        return path


async def measure_agreement(
    cases: list[JudgeCase],
    mode: ModelMode,
    *,
    cassette: Path,
    live: LLMEndpoint | None,
    record: bool,
) -> AgreementRun:
    """Every labelled case through the judge of `mode`; the agreement per rubric. One HTTP client
    serves every call (a client per call costs more than a scripted answer)."""
    async with httpx.AsyncClient(timeout=JUDGE_TIMEOUT_S) as client:
        if mode is ModelMode.SCRIPTED:
            return await _scripted(cases, client)
        if mode is ModelMode.REPLAY:
            base_url, model = recorded_endpoint(cassette)
            judge = LLMJudge(
                base_url=base_url, api_key="sk-replay", model=model, http_client=client
            )
            with use_cassette(cassette, record_mode="none", allow_unused=True):
                return AgreementRun(model, agreement(await judge_all(cases, judge.judge)))
        if live is None:
            raise ValueError("--model live needs LLM_BASE_URL, LLM_API_KEY and LLM_MODEL")
        judge = LLMJudge(
            base_url=live.base_url,
            api_key=live.api_key,
            model=live.model,
            timeout_s=live.timeout_s,
            http_client=client,
        )
        if not record:
            return AgreementRun(live.model, agreement(await judge_all(cases, judge.judge)))
        with use_cassette(cassette, record_mode="new_episodes"):
            return AgreementRun(live.model, agreement(await judge_all(cases, judge.judge)))


async def _scripted(cases: list[JudgeCase], client: httpx.AsyncClient) -> AgreementRun:
    missing = [case.id for case in cases if not case.scripted]
    if missing:
        raise ValueError(f"--model scripted needs a `judge:` answer in {', '.join(missing)}")
    fake = FakeLLM(base_url=SCRIPTED_JUDGE_URL)
    fake.script(*script_items([{"verdict": dict(case.scripted)} for case in cases], {}))
    judge = LLMJudge(
        base_url=fake.base_url, api_key="sk-eval", model=SCRIPTED_JUDGE_MODEL, http_client=client
    )
    interception = install(fake)
    try:
        judged = await judge_all(cases, judge.judge)
    finally:
        uninstall(interception)
    return AgreementRun(SCRIPTED_JUDGE_MODEL, agreement(judged))


def judged(cases: list[Case]) -> list[Case]:
    """The cases with an `llm_judge` grader: their scores rest on the judge."""
    return [case for case in cases if any(e.kind == "llm_judge" for e in case.expect)]


def judge_models(
    cases: list[Case], mode: ModelMode, *, cassette_dir: Path, live: LLMEndpoint | None
) -> list[str]:
    """The judge models the judged cases of a run ask (replayed: each cassette's own)."""
    if not cases:
        return []
    if mode is ModelMode.SCRIPTED:
        return [SCRIPTED_JUDGE_MODEL]
    if mode is ModelMode.LIVE:
        return [live.model if live is not None else ""]
    models = set()
    for case in cases:
        try:
            models.add(recorded_endpoint(cassette_dir / (case.cassette or f"{case.id}.yaml"))[1])
        except (OSError, CassetteError):
            continue  # the case reports its missing cassette itself
    return sorted(models)


def check_judges(
    models: list[str], *, calibration: Path, labelled: Path, min_kappa: float
) -> JudgeCheck | None:
    """Whether every judge of the run may gate: the first that may not, else the least trusted."""
    if not models:
        return None
    calibrations = load_calibrations(calibration)
    labelled_sha = fingerprint(labelled.read_bytes()) if labelled.exists() else ""
    checks = [
        check_judge(
            model,
            calibrations,
            labelled_sha256=labelled_sha,
            prompt_sha256=fingerprint(JUDGE_SYSTEM_PROMPT),
            min_kappa=min_kappa,
        )
        for model in models
    ]
    return min(checks, key=lambda c: (c.passed, c.kappa_low if c.kappa_low is not None else -2))


__all__ = [
    "SCRIPTED_JUDGE_MODEL",
    "AgreementRun",
    "CassetteError",
    "check_judges",
    "judge_models",
    "judged",
    "measure_agreement",
]
