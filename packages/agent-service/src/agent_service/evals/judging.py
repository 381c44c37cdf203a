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

from agent_service.evals.model_side import ModelMode, recorded_endpoint
from agent_service.evals.sandbox import LLMEndpoint
from agent_testkit.cassettes import CassetteError, use_cassette
from agent_testkit.evals import JUDGE_SYSTEM_PROMPT, LLMJudge, script_items
from agent_testkit.evals.agreement import (
    PASS_SCORE,
    JudgeCase,
    RubricAgreement,
    agreement,
    judge_all,
)
from agent_testkit.fake_llm import FakeLLM
from agent_testkit.fake_llm.interception import install, uninstall

SCRIPTED_JUDGE_URL = "http://judge-agreement.fake-llm.test/v1"


@dataclass(frozen=True)
class AgreementRun:
    model: str
    rows: list[RubricAgreement]

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
    """Every labelled case through the judge of `mode`; the agreement per rubric."""
    if mode is ModelMode.SCRIPTED:
        return await _scripted(cases)
    if mode is ModelMode.REPLAY:
        base_url, model = recorded_endpoint(cassette)
        judge = LLMJudge(base_url=base_url, api_key="sk-replay", model=model)
        with use_cassette(cassette, record_mode="none", allow_unused=True):
            return AgreementRun(model, agreement(await judge_all(cases, judge.judge)))
    if live is None:
        raise ValueError("--model live needs LLM_BASE_URL, LLM_API_KEY and LLM_MODEL")
    judge = LLMJudge(
        base_url=live.base_url, api_key=live.api_key, model=live.model, timeout_s=live.timeout_s
    )
    if not record:
        return AgreementRun(live.model, agreement(await judge_all(cases, judge.judge)))
    with use_cassette(cassette, record_mode="new_episodes"):
        return AgreementRun(live.model, agreement(await judge_all(cases, judge.judge)))


async def _scripted(cases: list[JudgeCase]) -> AgreementRun:
    missing = [case.id for case in cases if not case.scripted]
    if missing:
        raise ValueError(f"--model scripted needs a `judge:` answer in {', '.join(missing)}")
    fake = FakeLLM(base_url=SCRIPTED_JUDGE_URL)
    fake.script(*script_items([{"verdict": dict(case.scripted)} for case in cases], {}))
    judge = LLMJudge(base_url=fake.base_url, api_key="sk-eval", model="fake-judge")
    interception = install(fake)
    try:
        judged = await judge_all(cases, judge.judge)
    finally:
        uninstall(interception)
    return AgreementRun("fake-judge (scripted answers from the labelled set)", agreement(judged))


__all__ = ["AgreementRun", "CassetteError", "measure_agreement"]
