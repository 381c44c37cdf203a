"""Tokens and cost per case and per slice: summed over the attempts (epochs) of a case, a case in
two slices counted in both, priced only when prices are given, and carried by the results file
into the report."""

import pytest

from agent_testkit.evals import CaseResult, EvalRun, load_results, render_html, write_results
from agent_testkit.evals.spend import Prices, run_spend


def attempt(case_id, tags, epoch, *turns):
    transcript = {
        "turns": [
            {
                "message": "m",
                "status_code": 200,
                "usage": {"prompt_tokens": p, "completion_tokens": c, "total_tokens": p + c},
            }
            for p, c in turns
        ]
    }
    return CaseResult(case_id, tags, "assistant", 100.0, epoch=epoch, transcript=transcript)


RESULTS = [
    attempt("a", ("tasks",), 0, (1000, 100), (2000, 50)),
    attempt("a", ("tasks",), 1, (1000, 100)),
    attempt("b", ("tasks", "safety"), 0, (500, 500)),
    attempt("c", ("safety",), 0),  # no turn reached the model: no tokens
]


def test_tokens_per_case_and_slice_without_prices():
    spend = run_spend(RESULTS, Prices())
    cases = {s.name: s for s in spend.cases}
    assert cases["a"].attempts == 2 and cases["a"].usage.prompt_tokens == 4000
    assert cases["a"].usage.completion_tokens == 250 and cases["a"].tokens_per_attempt == 2125
    assert cases["a"].cost is None
    slices = {s.name: s for s in spend.slices}
    assert slices["tasks"].usage.total_tokens == 4250 + 1000
    assert slices["safety"].usage.total_tokens == 1000 and slices["safety"].attempts == 2
    assert spend.overall.usage.total_tokens == 5250 and spend.overall.attempts == 4


def test_costs_with_prices():
    spend = run_spend(RESULTS, Prices(prompt=2.0, completion=8.0))
    cases = {s.name: s for s in spend.cases}
    # a: 4000 prompt at $2/M + 250 completion at $8/M = 0.008 + 0.002
    assert cases["a"].cost == pytest.approx(0.010)
    assert cases["a"].cost_per_attempt == pytest.approx(0.005)
    assert spend.overall.cost == pytest.approx((4500 * 2 + 750 * 8) / 1e6)


def test_the_results_file_and_the_report_carry_them(tmp_path):
    run = EvalRun.of(RESULTS, None, max_drop=2.0, model="live", prices=Prices(2.0, 8.0))
    again = load_results(write_results(run, tmp_path / "results.json"))
    assert again.prices == Prices(2.0, 8.0)
    assert again.to_json()["spend"]["slices"]["tasks"]["total_tokens"] == 5250
    assert again.to_json()["spend"]["cases"]["a"]["cost_usd"] == pytest.approx(0.01)
    html = render_html(again)
    assert 'id="spend-slices"' in html and 'id="spend-cases"' in html
    assert "$0.0100" in html and "5,250 tokens" in html
    unpriced = render_html(EvalRun.of(RESULTS, None, max_drop=2.0, model="live"))
    assert "no prices given" in unpriced and "cost / attempt" not in unpriced


async def test_the_judges_tokens_are_counted_apart(tmp_path, fake_llm):
    from agent_testkit.evals import GradeContext, LLMJudge, Transcript, Turn, build_grader
    from agent_testkit.evals.scoring import CaseResult as Result

    fake_llm.script(fake_llm.reply('{"score": 0.9, "reasoning": "Polite."}'))
    judge = LLMJudge(base_url=fake_llm.base_url, api_key="sk-test", model="judge-model")
    grader = build_grader("llm_judge", "The reply is polite.")
    graded = await grader.grade(
        GradeContext(Transcript([Turn("hi", 200, reply="Hello!")]), {}, judge)
    )
    assert graded.passed and graded.usage is not None and graded.usage.total_tokens > 0
    used = graded.usage.total_tokens

    result = Result(
        "a", ("tasks",), "assistant", 100.0, graders=[graded], transcript=RESULTS[0].transcript
    )
    again = load_results(
        write_results(EvalRun.of([result], None, max_drop=2.0, model="live"), tmp_path / "r.json")
    )
    assert again.results[0].graders[0].usage == graded.usage
    spend = run_spend(again.results, Prices(prompt=1.0, completion=1.0))
    assert spend.overall.judge.total_tokens == used and spend.overall.usage.total_tokens == 3150
    assert spend.overall.cost == pytest.approx((3150 + used) / 1e6)
    assert again.to_json()["spend"]["slices"]["tasks"]["judge_tokens"] == used
