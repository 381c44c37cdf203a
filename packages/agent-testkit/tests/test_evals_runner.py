"""The generic runner: concurrency, a fixed order of results whatever finishes first, and a case
whose run raises turned into a failed result."""

import asyncio

from agent_testkit.evals import Case, CaseResult, Expectation, run_cases


def make_case(case_id: str) -> Case:
    return Case(case_id, ("t",), "assistant", ("hi",), (Expectation("contains", "x"),))


async def test_results_come_back_sorted_and_at_most_n_at_once():
    running = peak = 0
    finished: list[str] = []

    async def run_one(case: Case, epoch: int) -> CaseResult:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.03 if case.id == "a" else 0.001)
        running -= 1
        return CaseResult(case.id, case.tags, case.agent, 100.0)

    cases = [make_case(i) for i in ("c", "a", "d", "b", "e")]
    results = await run_cases(
        cases, run_one, concurrency=2, on_result=lambda r: finished.append(r.case_id)
    )
    assert [r.case_id for r in results] == ["a", "b", "c", "d", "e"]
    assert peak == 2
    assert finished != [r.case_id for r in results]  # they finished in another order


async def test_a_crash_is_a_failed_case_not_a_failed_run():
    async def run_one(case: Case, epoch: int) -> CaseResult:
        if case.id == "boom":
            raise RuntimeError("the app fell over")
        return CaseResult(case.id, case.tags, case.agent, 100.0)

    results = await run_cases([make_case("boom"), make_case("fine")], run_one)
    boom = results[0]
    assert boom.score == 0 and not boom.passed
    assert boom.problems == ["the run crashed: RuntimeError('the app fell over')"]
    assert results[1].passed


async def test_epochs_run_each_case_n_times_and_keep_every_attempt():
    seen: list[tuple[str, int]] = []

    async def run_one(case: Case, epoch: int) -> CaseResult:
        seen.append((case.id, epoch))
        return CaseResult(case.id, case.tags, case.agent, 100.0 if epoch % 2 else 0.0)

    results = await run_cases([make_case("b"), make_case("a")], run_one, epochs=3)
    assert [(r.case_id, r.epoch) for r in results] == [
        ("a", 0),
        ("a", 1),
        ("a", 2),
        ("b", 0),
        ("b", 1),
        ("b", 2),
    ]
    assert sorted(seen) == sorted((r.case_id, r.epoch) for r in results)
    assert {epoch for _, epoch in seen[:2]} == {0}  # a first pass over every case, then the next
