"""Run cases concurrently, each through a function the app under test provides, and give the results
back in a fixed order (by case id) whatever order they finished in."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence

from agent_testkit.evals.cases import Case
from agent_testkit.evals.scoring import CaseResult

RunCase = Callable[[Case], Awaitable[CaseResult]]


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
    )


async def run_cases(
    cases: Sequence[Case],
    run_case: RunCase,
    *,
    concurrency: int = 8,
    on_result: Callable[[CaseResult], None] | None = None,
) -> list[CaseResult]:
    """Every case through `run_case`, at most `concurrency` at once; sorted by case id."""
    limit = asyncio.Semaphore(max(1, concurrency))

    async def one(case: Case) -> CaseResult:
        async with limit:
            started = time.perf_counter()
            try:
                result = await run_case(case)
            except Exception as exc:
                result = crashed(case, exc, time.perf_counter() - started)
            if on_result is not None:
                on_result(result)
            return result

    results = await asyncio.gather(*(one(case) for case in cases))
    return sorted(results, key=lambda r: r.case_id)
