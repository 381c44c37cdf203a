"""Paid runs: the attempts' starts spaced by a rate limit, and an interrupted run resumed from its
journal: what was finished the same way is kept, what changed or crashed runs again."""

import asyncio

import pytest

from agent_testkit.evals import Case, CaseResult, Expectation, run_cases
from agent_testkit.evals.journal import AttemptJournal
from agent_testkit.evals.runner import RateLimit


def make_case(case_id: str, text: str = "x") -> Case:
    return Case(case_id, ("t",), "assistant", ("hi",), (Expectation("contains", text),))


class FakeTime:
    """A clock that moves only when slept on: the limiter's waits, recorded."""

    def __init__(self) -> None:
        self.now, self.waits = 100.0, []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.waits.append(round(seconds, 6))
        await asyncio.sleep(0)


async def test_a_rate_limit_spaces_the_starts_evenly():
    time = FakeTime()
    rate = RateLimit(30, clock=time.clock, sleep=time.sleep)  # one start every 2 s
    started: list[str] = []

    async def run_one(case: Case, epoch: int) -> CaseResult:
        started.append(case.id)
        return CaseResult(case.id, case.tags, case.agent, 100.0)

    results = await run_cases([make_case(i) for i in "abcd"], run_one, concurrency=4, rate=rate)
    assert len(results) == 4 and sorted(started) == ["a", "b", "c", "d"]
    assert time.waits == [2.0, 4.0, 6.0]  # the first at once, each next one slot later
    time.now = 200.0  # long after: no wait
    await rate.wait()
    assert time.waits == [2.0, 4.0, 6.0]
    with pytest.raises(ValueError, match="positive"):
        RateLimit(0)


async def test_attempts_already_done_are_given_back_not_run():
    ran: list[tuple[str, int]] = []

    async def run_one(case: Case, epoch: int) -> CaseResult:
        ran.append((case.id, epoch))
        return CaseResult(case.id, case.tags, case.agent, 50.0)

    kept = CaseResult("a", ("t",), "assistant", 100.0, epoch=1)
    results = await run_cases(
        [make_case("a"), make_case("b")], run_one, epochs=2, done={("a", 1): kept}
    )
    assert sorted(ran) == [("a", 0), ("b", 0), ("b", 1)]
    assert [(r.case_id, r.epoch, r.score) for r in results] == [
        ("a", 0, 50.0),
        ("a", 1, 100.0),
        ("b", 0, 50.0),
        ("b", 1, 50.0),
    ]


def reopened(path, key, cases, *, resume=True):
    journal = AttemptJournal(path, key)
    try:
        return journal.open(cases, resume=resume)
    finally:
        journal.close()


def test_the_journal_keeps_what_was_made_the_same_way(tmp_path):
    path = tmp_path / "attempts.jsonl"
    cases = [make_case("a"), make_case("b"), make_case("c")]
    key = {"model": "live", "seed": 0}
    journal = AttemptJournal(path, key)
    assert journal.open(cases, resume=True) == {}  # nothing yet
    journal.record(cases[0], CaseResult("a", ("t",), "assistant", 100.0, epoch=0))
    journal.record(cases[1], CaseResult("b", ("t",), "assistant", 0.0, epoch=0))
    crashed = CaseResult("c", ("t",), "assistant", 0.0, problems=["the run crashed: boom"])
    journal.record(cases[2], crashed)
    journal.close()
    with path.open("a") as cut:
        cut.write('{"run": "half a line')  # where the interruption struck

    done = reopened(path, key, cases)
    assert sorted(done) == [("a", 0), ("b", 0)]  # a low score is a result; a crash is not
    assert done[("b", 0)].score == 0.0
    assert len(path.read_text().splitlines()) == 2  # rewritten with what is kept

    edited = [make_case("a", "y"), make_case("b")]  # case a changed: its attempt runs again
    assert sorted(reopened(path, key, edited)) == [("b", 0)]
    assert reopened(path, {"model": "live", "seed": 1}, cases) == {}  # another seed
    journal = AttemptJournal(path, key)
    journal.open(cases, resume=False)
    journal.record(cases[0], CaseResult("a", ("t",), "assistant", 100.0))
    journal.close()
    assert sorted(reopened(path, key, cases, resume=False)) == []  # without --resume: a new one
    assert path.read_text() == ""
