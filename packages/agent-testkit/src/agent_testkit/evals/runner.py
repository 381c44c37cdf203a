"""Run cases concurrently, each through a function the app under test provides, `epochs` times
each, and give the results back in a fixed order (by case id, then epoch) whatever order they
finished in. Every attempt is kept: scores average them per case.

Two things a paid model needs: `rate` spaces the attempts' starts (at most N a minute, evenly, on
top of `concurrency`), so a provider's rate limit is not hit in bursts; `done` holds attempts an
interrupted run already finished (`journal`), which are given back as they are, not run again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence

from agent_testkit.evals.cases import Case
from agent_testkit.evals.scoring import CaseResult

RunCase = Callable[[Case, int], Awaitable[CaseResult]]  # (case, epoch) -> its result
Sleep = Callable[[float], Awaitable[None]]


class RateLimit:
    """At most `per_minute` starts a minute, evenly spaced: each start waits for its slot."""

    def __init__(
        self,
        per_minute: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if per_minute <= 0:
            raise ValueError("a rate limit is a positive number of starts a minute")
        self.interval_s = 60.0 / per_minute
        self.clock, self.sleep = clock, sleep
        self._next: float | None = None

    async def wait(self) -> None:
        now = self.clock()
        slot = now if self._next is None else max(now, self._next)
        self._next = slot + self.interval_s  # reserved before waiting: starts never bunch up
        if slot > now:
            await self.sleep(slot - now)


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
    rate: RateLimit | None = None,
    done: Mapping[tuple[str, int], CaseResult] | None = None,
) -> list[CaseResult]:
    """Every case `epochs` times through `run_case(case, epoch)`, at most `concurrency` at once
    (and `rate` a minute); the attempts in `done` (by case id and epoch) are not run again.
    Sorted by case id and epoch. Epoch 0 of every case starts before epoch 1 of any."""
    if epochs < 1:
        raise ValueError("epochs must be at least 1")
    limit = asyncio.Semaphore(max(1, concurrency))
    done = done or {}

    async def one(case: Case, epoch: int) -> CaseResult:
        async with limit:
            if rate is not None:
                await rate.wait()
            started = time.perf_counter()
            try:
                result = await run_case(case, epoch)
            except Exception as exc:
                result = crashed(case, exc, time.perf_counter() - started)
            result.epoch = epoch
            if on_result is not None:
                on_result(result)
            return result

    kept = [done[(c.id, e)] for e in range(epochs) for c in cases if (c.id, e) in done]
    jobs = [one(c, e) for e in range(epochs) for c in cases if (c.id, e) not in done]
    results = [*kept, *await asyncio.gather(*jobs)]
    return sorted(results, key=lambda r: (r.case_id, r.epoch))
