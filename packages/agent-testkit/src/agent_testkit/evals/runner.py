"""Run cases concurrently, each through a function the app under test provides, `epochs` times
each, and give the results back in a fixed order (by case id, then epoch) whatever order they
finished in. Every attempt is kept: scores average them per case."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from agent_testkit.evals.cases import Case
from agent_testkit.evals.scoring import CaseResult

RunCase = Callable[[Case, int], Awaitable[CaseResult]]  # (case, epoch) -> its result


def crashed(case: Case, exc: BaseException, duration_s: float = 0.0) -> CaseResult:
    """The result of a case whose run raised: score 0, the exception as its problem."""
    return CaseResult(
        case.id,
        case.tags,
        case.agent,
        0.0,
        problems=[f"the run crashed: {exc!r}"],
        duration_s=duration_s,
        description=case.description,
        known_weakness=case.known_weakness,
    )


async def run_cases(
    cases: Sequence[Case],
    run_case: RunCase,
    *,
    concurrency: int = 8,
    epochs: int = 1,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Every case `epochs` times through `run_case(case, epoch)`, at most `concurrency` at once;
    sorted by case id and epoch. Epoch 0 of every case runs before epoch 1 of any."""
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(case: Case, epoch: int) -> CaseResult:
        async with limit:
            started = time.perf_counter()
            try:
                result = await run_case(case, epoch)
            except Exception as exc:
                result = crashed(case, exc, time.perf_counter() - started)
            result.epoch = epoch
            if on_result is not None:
                on_result(result)
            return result

    jobs = [one(case, epoch) for epoch in range(epochs) for case in cases]
    results = await asyncio.gather(*jobs)
    return sorted(results, key=lambda r: (r.case_id, r.epoch))
