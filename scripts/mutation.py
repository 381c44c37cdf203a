"""Mutation testing of the critical modules: do their tests notice when the code is wrong?

Each mutant changes one operator or constant of one module (`==` to `!=`, `and` to `or`, `<` to
`<=`, a number by one, `True` to `False`, a `not` removed, `shield=True` to `shield=False`) or
deletes one statement of a function (a call made for its effect, an assignment, a raise: it
becomes `pass`), is written into a copy of the source
tree placed first on `PYTHONPATH`, and the module's tests run against it. A mutant the tests fail
on is killed; one they pass is a survivor: a behaviour nothing checks. A mutant listed in
`EQUIVALENT` changes nothing a caller can observe (or moves a tuning constant no rule fixes to the
unit); it is left out of the score, with its reason, and the list is checked against the code.
The score is killed / (all - equivalent).

    .venv/bin/python scripts/mutation.py                 # every module, fails under 90 % (85 %
                                                         # for the modules of issue 21)
    .venv/bin/python scripts/mutation.py sniff tokens    # modules whose path contains a word
    .venv/bin/python scripts/mutation.py gate --kills    # and which test killed each mutant

Last full run (killed/counted; equivalents apart): signature 5/5, tokens 4/4 (+1 equivalent),
tool 16/16 (+4), gate 69/69 (+5), sniff 23/23 (+1), llm client 72/72 (+2): 189/189, 100 %, in
2 min 46 s with 2 workers on an idle machine (up to 9 min while other test runs shared the
cores). Before the tests of issue 10 item 6: 5/5, 3/5, 11/21, 42/79, 16/29, 73/74: 150/213, 70.4 %.

Issue 21's modules (threshold 85 %; killed/counted, equivalents apart), measured one by one with
coverage selection on a loaded 2-core machine. Earlier sessions: integrations/github/jobs.py 43/43,
documents/processing.py 85/85, quotas/service.py 81/85 (95.3 %), quotas/clock.py 8/8,
idempotency/service.py 54/55 (98.2 %), runs/cancelling.py 29/31 (93.5 %), runs/settlement.py
20/21 (95.2 %), runs/payloads.py 11/12 (91.7 %); idempotency/models.py 4/4 and
quotas/exceptions.py 5/5 checked by hand. 2026-12-07, most with `--budget-s 20` (a lower bound)
and the survivors run again with `--lines` against every test after new tests (`--postgres` for
the notifier): idempotency/middleware.py 200/210 (95.2 %), runs/admission.py 82/89 (92.1 %),
executor 23/25 (92.0 %), hooks 11/12 (91.7 %), host 33/34 (97.1 %), lifecycle 28/32 (87.5 %),
liveness 41/48 (85.4 %), notifier 52/55 (94.5 %), scheduling 33/38 (86.8 %), service 90/105
(85.7 %), stream 32/37 (86.5 %), takeover 37/43 (86.0 %), writer 86/98 (87.8 %). Then, on the
final code against every reaching test (no budget): runs/ending.py 125/132 (94.7 %; was 71.4 %;
one more, PostgreSQL's announce, is killed with `--postgres`) and runs/driving.py 110/130, then
111/128 (86.7 %) after a wake-up test and a dead line removed. Mutants that only PostgreSQL
tells apart survive a SQLite run: use `--postgres`.

Speed: each worker (one per core) is a process that has imported the third-party modules the
tests import (pytest, FastAPI, SQLAlchemy, openai...: 5 to 8 s of every pytest start) and forks one
pytest session per mutant; nothing of ours is imported before the fork (checked), so every session
imports the mutated copy. The module's tests first run once under coverage, one context per test
(setup and teardown included, so a background task's lines go to the test they ran during); each
mutant then runs only the tests that ran its statement, the fastest first, with `-x`. A
statement run at import (a module-level value) runs every test; one no test ran survives without a
run and is reported as such. `--confirm` runs each survivor again against all the module's tests,
for lines that only a served subprocess runs (coverage does not follow it).
sniff.py alone took 278 s with a fresh `python -m pytest` per mutant, 35 s with warm workers.

mutmut 3 was tried first: it mutates a copy under `mutants/` but our editable installs put the real
`src/` folders on `sys.path`, so its tests never reached a mutant. Tests run on SQLite unless
`--postgres` names a server.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SERVICE = "packages/agent-service/src"
KIT = "packages/agent-testkit/src"
SESSION_LIMIT = 600  # seconds for one pytest session; a mutant that hangs past it is killed

# The tests of issue 21's modules, shared by each module of a package. Globs pick up a test file
# added later under the same name; with coverage selection a long list costs one traced run, not
# one run per mutant.
IDEMPOTENCY_TESTS = ["tests/integration/test_idempotency*.py", "tests/e2e/test_idempotency_e2e.py"]
QUOTA_TESTS = ["tests/integration/test_quota*.py"]
RUN_TESTS = [
    "tests/unit/test_run*.py",
    "tests/integration/test_run*.py",
    "tests/integration/test_final_answer_store.py",
    "tests/integration/test_event_batcher.py",
    "tests/integration/test_quota_reservations.py",
    "tests/integration/test_idempotency_runs.py",
    "tests/integration/test_chat_stream.py",
    "tests/integration/test_agent_chat.py",
    "tests/integration/test_background_runs.py",
    "tests/integration/test_database_busy.py",
    "tests/integration/test_sqlite*.py",
]
RUN_MODULES = [
    *("admission", "cancelling", "driving", "ending", "executor", "hooks", "host", "lifecycle"),
    *("liveness", "notifier", "payloads", "scheduling", "service", "settlement", "stream"),
    *("takeover", "writer"),
]

# module (relative to ROOT) -> the tests that should notice a change in it (globs allowed)
TARGETS: dict[str, list[str]] = {
    f"{SERVICE}/agent_service/integrations/github/signature.py": [
        "tests/unit/test_webhook_signature.py",
        "tests/integration/test_github_webhook.py",
    ],
    f"{SERVICE}/agent_service/auth/tokens.py": [
        "tests/unit/test_tokens.py",
        "tests/integration/test_access_tokens.py",
    ],
    f"{SERVICE}/agent_service/agents/tool.py": [
        "tests/unit/test_agent_registry.py",
        "tests/unit/test_agent_tool.py",
        "tests/integration/test_agent_loop.py",
    ],
    f"{KIT}/agent_testkit/evals/gate.py": [
        "packages/agent-testkit/tests/test_evals_gate.py",
        "packages/agent-testkit/tests/test_evals_stats.py",  # the paired rule on simulated runs
        "packages/agent-testkit/tests/test_evals_reports.py",  # checks as JUnit and HTML show them
    ],
    f"{SERVICE}/agent_service/documents/sniff.py": ["tests/unit/test_sniff.py"],
    f"{SERVICE}/agent_service/llm/client.py": [
        "tests/unit/test_llm_waits.py",
        "tests/integration/test_llm_client.py",
        "tests/integration/test_llm_failures.py",
    ],
    **{
        f"{SERVICE}/agent_service/{module}": tests
        for tests, modules in (
            (
                IDEMPOTENCY_TESTS,
                ["idempotency/middleware.py", "idempotency/service.py", "idempotency/models.py"],
            ),
            (QUOTA_TESTS, ["quotas/service.py", "quotas/clock.py", "quotas/exceptions.py"]),
            (RUN_TESTS, [f"runs/{name}.py" for name in RUN_MODULES]),
        )
        for module in modules
    },
    f"{SERVICE}/agent_service/documents/processing.py": [
        "tests/integration/test_documents*.py",
        "tests/integration/test_storage*.py",
    ],
    f"{SERVICE}/agent_service/integrations/github/jobs.py": ["tests/integration/test_github*.py"],
}

# (module's folder/file name, the mutated line as written, mutation) -> why no caller can tell the difference
# (or why the constant it moves by one is a tuning choice that no rule fixes to the unit)
_EQUIVALENT_FIRST: dict[tuple[str, str, str], str] = {
    (
        "documents/sniff.py",
        "SNIFF_BYTES = 8192  # decided on this much of the start of the file (or all of a shorter one)",
        "8192 -> 8193",
    ): "how much of the start the sniff reads is tuning: a byte more decides alike except on a"
    " file built to differ at byte 8193",
    ("auth/tokens.py", "token = secrets.token_urlsafe(32)", "32 -> 33"): "33 random bytes are as"
    " unguessable as 32; the tests ask for at least 40 characters (240 bits)",
    (
        "agents/tool.py",
        "@dataclass(frozen=True)",
        "True -> False",
    ): "frozen only refuses assignments"
    " to fields, which no code makes, and nothing hashes a tool, its context or an outcome",
    (
        "agents/tool.py",
        'if not getattr(raw.driver_connection, "in_transaction", True):',
        "True -> False",
    ): "the default is never read: aiosqlite's connection, the one SQLite driver, has the attribute",
    (
        "llm/client.py",
        "return _Failure(lambda _n: LLMBadResponse(str(exc)), retry=False)",
        "False -> True",
    ): "NotACompletion comes only from a stream's chunks, after the retries: nothing reads the flag",
    (
        "llm/client.py",
        "@dataclass(frozen=True)",
        "True -> False",
    ): "_Failure is built once per failed attempt and only read: nothing assigns to or hashes it",
    (
        "evals/gate.py",
        "@dataclass(frozen=True)",
        "True -> False",
    ): "frozen only refuses assignments to"
    " fields, which no code makes, and nothing hashes a baseline, check or change",
    (
        "evals/gate.py",
        "return -paired.mean > max_drop and paired.interval.high < 0, paired",
        "Lt -> LtE",
    ): "the t interval ends exactly at 0.0 only by a float coincidence, or with no spread and no"
    " change: a mean drop of 0, never over max_drop",
}

FIRST_MODULES = {
    f"{SERVICE}/agent_service/{name}"
    for name in ("integrations/github/signature.py", "auth/tokens.py", "agents/tool.py")
} | {
    f"{SERVICE}/agent_service/documents/sniff.py",
    f"{SERVICE}/agent_service/llm/client.py",
    f"{KIT}/agent_testkit/evals/gate.py",
}

# One dict per group of issue 21's modules, so the people working on each don't edit the same lines.
ZERO_TOKENS = (
    "a count of 0 tokens adds 0 to the day's row (or writes a row of 0): every reader sums"
    " tokens, so the quota, the usage route and the tests read the same"
)
# A claimed or resumed run's wake-up: its watchers (follow_events, wait_final) act on new events
# and on final or paused statuses, and a claim brings neither: woken, they read nothing new.
WAKE_AT_CLAIM = (
    "who watches a run acts on its events and on a final or paused status, and a claim or a"
    " resume brings neither: a follower woken then reads nothing new"
)
# runs/: admission cancelling driving ending executor hooks host lifecycle
EQUIVALENT_RUNS_A: dict[tuple[str, str, str], str] = {
    ("runs/host.py", "LONGEST_S = 2.0", "2.0 -> 3.0"): "the longest pause between two tries of"
    " a write is tuning (it only paces the tries)",
    ("runs/host.py", "self.delay_s = min(self.delay_s * 2, self.LONGEST_S)", "2 -> 3"): "how fast"
    " the pause grows is tuning (it only paces the tries)",
    ("runs/host.py", "past = time.monotonic() > self.give_up_at", "Gt -> GtE"): "a monotonic"
    " reading equal to the deadline to the nanosecond: the next try decides alike",
    (
        "runs/driving.py",
        "REWALKS = 3  # steps made again after outages, per run",
        "3 -> 4",
    ): "how many outages a run goes on after is tuning: no rule fixes 3 (the tests check that a"
    " step lost to an outage is made again once, and that a refused one is not)",
    ("runs/driving.py", "for attempt in itertools.count(1):", "1 -> 2"): "one rewalk fewer"
    " (2, not 3) after outages: the same tuning as REWALKS",
    ("runs/driving.py", "if attempt > REWALKS or not busy:", "Gt -> GtE"): "one rewalk fewer"
    " (2, not 3) after outages: the same tuning as REWALKS",
    (
        "runs/admission.py",
        "await cancelling.wait_final(host, run.id, timeout_s=10)",
        "10 -> 11",
    ): "how long interrupt/rollback wait for the active run to end is tuning; a cancelled run"
    " ends in well under a second",
    (
        "runs/executor.py",
        "await asyncio.wait(list(self.host.tasks.values()), timeout=10)",
        "10 -> 11",
    ): "how long a shutdown waits for its interrupted runs to write their end is tuning",
    (
        "runs/host.py",
        'return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"',
        "8 -> 9",
    ): "a ninth random hex digit in the owner's name: still unique per process start, and"
    " nothing parses the name, it is only compared whole",
    ("runs/hooks.py", "if usage.total_tokens <= 0:", "LtE -> Lt"): ZERO_TOKENS,
    ("runs/hooks.py", "if user_id is not None and streamed_tokens > 0:", "Gt -> GtE"): ZERO_TOKENS,
    ("runs/hooks.py", "if user_id is not None and streamed_tokens > 0:", "And -> Or"): "a run"
    " without a user is settled with 0 streamed tokens (settlement._settle), so `or` only adds"
    " counts of 0: " + ZERO_TOKENS,
    ("runs/hooks.py", "if usage.total_tokens <= 0:", "0 -> 1"): "a model call's reported usage"
    " includes its prompt (the system prompt and the messages, many tokens): a total of exactly"
    " one token does not occur",
    (
        "runs/cancelling.py",
        "return run.heartbeat_at is not None and run.heartbeat_at < utcnow() - lease",
        "Lt -> LtE",
    ): "a heartbeat exactly one lease old, to the microsecond: no caller can aim at that"
    " instant, and the lease's length is a setting",
    ("runs/cancelling.py", "if remaining <= 0:", "LtE -> Lt"): "remaining is exactly 0.0 only"
    " by a float coincidence; then the wait is 0 s and the next pass raises all the same",
    ("runs/cancelling.py", "if remaining <= 0:", "0 -> 1"): "gives up a second before the"
    " deadline: the same as a caller passing timeout_s - 1, and the callers' timeouts (2 s for"
    " the cancel reply, 10 s for interrupt/rollback) are tuning",
    ("runs/ending.py", "if new.total_tokens > 0:", "Gt -> GtE"): "at 0 new tokens"
    " hooks.after_run calls quotas.record_usage, which returns before opening a session when"
    " tokens <= 0: the same nothing as not calling it",
    ("runs/ending.py", "if new.total_tokens > 0:", "0 -> 1"): "new tokens are a model call's"
    " reported usage, which includes its prompt (many tokens): exactly one does not occur",
    (
        "runs/ending.py",
        "state.recorded = state.usage  # a second call would count nothing",
        "statement deleted",
    ): "record_usage is the last count of a RunState: each path (a pause, an end, an answer"
    " stored without its count, a hand-over) calls it once and drops the state",
    (
        "runs/ending.py",
        "host: RunHost, session: AsyncSession, run: Run, status: str, *, unrenewed: bool = False",
        "False -> True",
    ): "the callers that leave the default (a cancel) end runs whose heartbeat nobody renews: paused"
    " and queued runs have no lease, a stalled run's owner leaves it out of its heartbeat, and a"
    " dead owner renews nothing; the heartbeat condition holds for them all the same",
    (
        "runs/ending.py",
        "await session.rollback()  # the UPDATE matched no row: nothing to keep",
        "statement deleted",
    ): "after a conditional"
    " UPDATE that matched no row (the run was ended or taken over elsewhere): nothing changed, and"
    " the caller's next commit or its session's close ends the transaction all the same",
}
# runs/: liveness notifier payloads scheduling service settlement stream takeover writer
STREAM_PAUSES = "FIRST_PAUSE_S, LONGEST_PAUSE_S = 0.2, 2.0  # between a follower's reads while the database is away"
EQUIVALENT_RUNS_B: dict[tuple[str, str, str], str] = {
    ("runs/notifier.py", "RECENT_EVENTS = 256", "256 -> 257"): "how many events a driving"
    " process keeps for its followers is tuning: one further behind reads the rows",
    ("runs/notifier.py", "@dataclass(frozen=True)", "True -> False"): "nothing assigns to a"
    " CommittedEvent's fields: frozen only guards against a change no code makes",
    ("runs/notifier.py", "async with asyncio.timeout(5):", "5 -> 6"): "how long a start waits for"
    " its listener's first attempt is tuning: the tests' listeners answer or fail at once",
    (
        "runs/notifier.py",
        'dsn = database_url.replace("postgresql+psycopg://", "postgresql://", 1)',
        "1 -> 2",
    ): "the driver's prefix is at the start of the URL, once: a second replacement finds nothing",
    (
        "runs/takeover.py",
        "lapsed = utcnow() - timedelta(seconds=host.settings.run_lease_s + 1)",
        "1 -> 2",
    ): "how far past the lease a handed-over heartbeat is put is tuning: any time past it is"
    " found by the next sweep",
    ("runs/scheduling.py", "if run is None or conversation is None:", "Or -> And"): "a run"
    " goes only with its conversation (deleted with it): one is None exactly when the other is,"
    " and in a claim the conversation is read only for a claimed run",
    (
        "runs/scheduling.py",
        "await host.notifier.announce(session, run_key(run.id))",
        "statement deleted",
    ): WAKE_AT_CLAIM,
    ("runs/scheduling.py", "host.notifier.wake(run_key(run.id))", "statement deleted"): (
        WAKE_AT_CLAIM
    ),
    (
        "runs/liveness.py",
        "return failed_at is None or time.monotonic() - failed_at >= host.settings.run_lease_s",
        "GtE -> Gt",
    ): "two monotonic readings taken apart differ by exactly the lease only by a float coincidence",
    ("runs/liveness.py", "query = query.where(Run.heartbeat_at < cutoff)", "Lt -> LtE"): "a"
    " heartbeat written at exactly the cutoff's microsecond is a coincidence of two clocks' readings",
    (
        "runs/liveness.py",
        "query = query.where(Run.owner.is_distinct_from(host.owner))",
        "statement deleted",
    ): "the start-up sweep runs before this process admits anything, and its owner name is new at"
    " each start (owner_name): no run has it yet, so the filter removes nothing",
    ("runs/liveness.py", "host.refused.discard(run.id)", "statement deleted"): "`refused` is read"
    " only for a run in `stalled` (cancelling._owner_stuck), which the line before empties; the"
    " run's own WriteRetry, still running since it is stalled, sets or clears the entry at its"
    " next attempt before it is stalled again",
    (
        "runs/settlement.py",
        "streamed = 0 if user_id is None else await streamed_tokens(session, run_id)",
        "0 -> 1",
    ): "with no user (a reservation given back) hooks.settle adds usage only for a user: the"
    " count is never read",
    (
        "runs/settlement.py",
        "for event in await runs.read_events(session, run_id, 0):",
        "0 -> 1",
    ): "seq 1 is always the run's `run.created` (create_run writes it), neither text nor a"
    " counted step: skipping it counts the same",
    ("runs/stream.py", STREAM_PAUSES, "0.2 -> 1.2"): "the follower's first pause before"
    " reading again is tuning (it only paces the reads)",
    ("runs/stream.py", STREAM_PAUSES, "2.0 -> 3.0"): "the follower's longest pause is tuning (it"
    " only paces the reads)",
    ("runs/stream.py", "if now - lost_at > patience_s:", "Gt -> GtE"): "a loss lasting the"
    " patience to the nanosecond of two monotonic readings is a coincidence",
    ("runs/stream.py", "pause_s = min(pause_s * 2, LONGEST_PAUSE_S)", "2 -> 3"): "how fast the"
    " pause grows is tuning (it only paces the reads)",
    ("runs/takeover.py", "RunEvent.seq > func.coalesce(last_step, 0),", "0 -> 1"): "the last"
    " step is never NULL: every run's seq 1 is `run.created`, one of STEP_EVENTS",
    ("runs/takeover.py", "RunEvent.seq > func.coalesce(last_step, 0),", "Gt -> GtE"): "the event"
    " at the last step's seq is that step event, never a `message.delta`: the same rows match",
    ("runs/takeover.py", ".limit(1)", "1 -> 2"): "session.scalar takes the first row either way",
    (
        "runs/takeover.py",
        "still_dead.append(Run.owner.is_not_distinct_from(run.owner))",
        "statement deleted",
    ): "every write of a run's owner moves its heartbeat or its status with it (a claim, a take and"
    " a resume write heartbeat_at, an end or a pause the status), both also held as found",
    ("runs/takeover.py", "await session.rollback()", "statement deleted"): "the UPDATE that lost"
    " the race matched no row, so it changed and (on PostgreSQL) locked nothing; the only caller,"
    " the sweep, goes on in the same session with end_idle, which commits or rolls back",
}
# idempotency/, quotas/
EQUIVALENT_IDEM: dict[tuple[str, str, str], str] = {
    (
        "idempotency/middleware.py",
        "NOT_STORED = frozenset({408, 409, 425, 429})",
        "408 -> 409",
    ): "no route"
    " the middleware covers answers 408 (the set loses a status nothing sends; 409 stays in it)",
    (
        "idempotency/middleware.py",
        "NOT_STORED = frozenset({408, 409, 425, 429})",
        "425 -> 426",
    ): "no route the middleware covers answers 425 or 426",
    (
        "idempotency/middleware.py",
        "MAX_STORED_BODY = 1024 * 1024",
        "1024 -> 1025",
    ): "how large an answer"
    " or a repeat's body is kept is tuning: 1 MiB or 1,025 KiB alike; the tests pin the boundary"
    " at MAX_STORED_BODY, whatever its value",
    **{
        (
            "idempotency/middleware.py",
            "_POLL_S = (0.02, 0.05, 0.1, 0.2)",
            f"{wait} -> {wait + 1}",
        ): "how"
        " soon a waiting repeat looks again is tuning: it answers the same, a second later at most"
        for wait in (0.02, 0.05, 0.1, 0.2)
    },
    (
        "idempotency/middleware.py",
        "await anyio.sleep(_POLL_S[min(attempt, len(_POLL_S) - 1)])",
        "1 -> 2",
    ): "the looks keep the 100 ms spacing instead of reaching 200 ms: tuning, the same answers",
    ("idempotency/middleware.py", "for attempt in range(10_000):", "10000 -> 10001"): "a guard: the"
    " deadline (IDEMPOTENCY_WAIT_S) ends the loop thousands of looks earlier",
    (
        "idempotency/middleware.py",
        "if time.monotonic() >= deadline:",
        "GtE -> Gt",
    ): "a monotonic float equal to the deadline to the nanosecond: the next look decides alike",
    (
        "idempotency/middleware.py",
        "self.body_read = False",
        "statement deleted",
    ): "every covered route reads"
    " its body before anything can answer (FastAPI reads a body parameter before the"
    " dependencies), so body_read is set before _storable, _request_hash or the stream's store"
    " reads it; a request cut before its body has no status, and _storable stops there",
    (
        "idempotency/middleware.py",
        "self.body_read = False",
        "False -> True",
    ): "as for its deletion: it is"
    " read only after a status, which every covered route sends after reading its body",
    (
        "idempotency/middleware.py",
        "self.status = 0",
        "0 -> 1",
    ): "any status under 200 is not kept; an"
    " answer's start sets the real one before anything reads it",
    (
        "idempotency/middleware.py",
        "renew_at = await service.now(sessionmaker) + service.CLAIM_LEASE / 2",
        "2 -> 3",
    ): "when in the lease a long body renews its claim is tuning (a third or a half in): the"
    " claim lives on either way",
    (
        "idempotency/middleware.py",
        "if len(self.body) > MAX_STORED_BODY:",
        "Gt -> GtE",
    ): "an answer of exactly 1 MiB kept or not: where the limit falls to the byte is tuning",
    (
        "idempotency/middleware.py",
        "keep = len(self._boundary) - 1  # a boundary may be cut between two chunks",
        "Sub -> Add",
    ): "the carry only delays bytes into the digest: any carry of at least len(boundary) - 1"
    " bytes finds a boundary cut between chunks and gives the same fingerprint",
    ("quotas/service.py", "SETTLE_GRACE = timedelta(seconds=60)", "60 -> 61"): "how long a"
    " settlement may lag its run's end is tuning; the tests age runs by SETTLE_GRACE itself",
    ("quotas/service.py", "@dataclass(frozen=True)", "True -> False"): "frozen only refuses"
    " assignments to a Reservation's fields, which no code makes, and nothing hashes one",
    (
        "quotas/service.py",
        "if row.tokens < quota:  # held: by runs still going, or left by runs that died",
        "Lt -> LtE",
    ): "at tokens == quota the held branch cannot let a run in (tokens + held >= quota) and"
    " the refusal is the same QuotaExceeded",
    ("quotas/service.py", "recent = Run.finished_at > utcnow() - SETTLE_GRACE", "Gt -> GtE"): "a"
    " run that ended exactly SETTLE_GRACE ago to the microsecond: the next look decides alike",
    ("quotas/service.py", "if tokens <= 0:", "LtE -> Lt"): "adding 0 tokens changes no count"
    " (a day's row of 0 reads as no row)",
    (
        "quotas/service.py",
        'dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite',
        "Eq -> NotEq",
    ): "the two dialects compile this INSERT ... ON CONFLICT to the same SQL, on either database",
    (
        "quotas/service.py",
        "row = await session.get(TokenUsage, (user_id, moment.date()), populate_existing=True)",
        "True -> False",
    ): "check_quota runs first in its transaction: no earlier load of the row could be stale",
    (
        "idempotency/service.py",
        "SWEEP_BATCH = 100  # expired keys deleted by each new claim",
        "100 -> 101",
    ): "how many"
    " other users' expired keys a claim sweeps is tuning: a user's own expired key is swept"
    " whatever the batch",
    ("idempotency/service.py", "CLAIM_LEASE = timedelta(seconds=60)", "60 -> 61"): "the"
    " lease's length is tuning; the tests end it with CLAIM_LEASE itself",
    ("idempotency/service.py", "@dataclass(frozen=True)", "True -> False"): "frozen only"
    " refuses assignments to a Claim's fields, which no code makes, and nothing hashes one",
    (
        "idempotency/service.py",
        'if status == "completed" or status == "requires_action":',
        "Or -> And",
    ): "a shortcut: a completed run has its message.completed event and a paused one its"
    " run.requires_action event, both KEPT_EVENTS committed with the status, so the events"
    " query below gives KEPT as well",
    (
        "idempotency/service.py",
        "if run_id is not None and await run_outcome(session, run_id) != RunOutcome.VOID:",
        "And -> Or",
    ): "with no run, run_outcome finds no status and no event: VOID, so the `or` decides as"
    " the `and`",
    ("idempotency/service.py", "await session.rollback()", "statement deleted"): "claim_key"
    " returns at once and its `async with` closes the session, which rolls the failed"
    " transaction back all the same",
}
# documents/processing.py, integrations/github/jobs.py
EQUIVALENT_DOCS: dict[tuple[str, str, str], str] = {
    ("documents/processing.py", "BATCH_MAX_SECONDS = 0.5", "0.5 -> 1.5"): "how long one batch"
    " may read before its commit is tuning (how often progress moves): no rule fixes it to the"
    " second, and what is stored, resumed and reported is checked for any batch size",
    (
        "documents/processing.py",
        "if time.monotonic() - started >= BATCH_MAX_SECONDS:",
        "GtE -> Gt",
    ): "a monotonic clock difference exactly equal to 0.5 is a coincidence of the clock's"
    " resolution; either way the batch ends after that page or the next, which stores, resumes"
    " and reports alike",
    ("documents/processing.py", "@dataclass(frozen=True)", "True -> False"): "frozen only refuses"
    " assignments to a Passage's fields, which no code makes, and nothing hashes one",
    (
        "documents/processing.py",
        "document = await session.get(Document, document_id, with_for_update=True)",
        "True -> False",
    ): "(its three uses) SQLAlchemy's SQLite dialect, the database the mutation run uses, renders"
    " no FOR UPDATE: the statements sent are the same (on PostgreSQL the row lock orders the"
    " job's write after a concurrent delete or final failure)",
    ("github/jobs.py", "number = delivery.issue_number or 0", "0 -> 1"): "the fallback is never"
    " read: a delivery is queued for triage only with an issue number (service.classify ignores"
    " one without), and only a queued delivery has a job",
}

EQUIVALENT = {
    **_EQUIVALENT_FIRST,
    **EQUIVALENT_RUNS_A,
    **EQUIVALENT_RUNS_B,
    **EQUIVALENT_IDEM,
    **EQUIVALENT_DOCS,
}

SWAPS: dict[type[ast.AST], type[ast.AST]] = {
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.And: ast.Or,
    ast.Or: ast.And,
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.Mult,
}


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int  # the n-th mutation site of the module, in walk order
    line: int
    source: str  # the line as written, stripped
    description: str
    lines: tuple[int, ...] = ()  # where a run reaches it: its statement's first line to its end

    @property
    def equivalence(self) -> str | None:
        """Why this mutant changes nothing observable, when it is listed as such."""
        return EQUIVALENT.get((short_name(self.module), self.source, self.description))


def short_name(module: str) -> str:
    """`runs/service.py`: a module's folder and file, which tell apart three `service.py`."""
    return "/".join(Path(module).parts[-2:])


def _annotation_ids(tree: ast.AST) -> set[int]:
    """Nodes inside annotations and docstrings: changing them changes no behaviour."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        annotations: list[ast.AST | None] = []
        if isinstance(node, ast.AnnAssign | ast.arg):
            annotations.append(node.annotation)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            annotations.append(node.returns)
        for annotation in annotations:
            if annotation is not None:
                skipped.update(id(n) for n in ast.walk(annotation))
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            value = body[0].value
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                skipped.add(id(value))
    return skipped


# Statements a mutant deletes (replaces with `pass`) inside a function: a call made for its effect
# (`await record_usage(...)`, `effects.clear()`), an assignment, a raise.
DELETED = (ast.Expr, ast.Assign, ast.AugAssign, ast.Raise)


def _shield_ids(tree: ast.AST) -> set[int]:
    """The `True`/`False` of every `shield=` argument: a flip is named a shield flip."""
    return {
        id(keyword.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for keyword in node.keywords
        if keyword.arg == "shield" and isinstance(keyword.value, ast.Constant)
    }


def _deletable_ids(tree: ast.AST) -> set[int]:
    """Statements of function bodies a mutant may delete (not docstrings, not `...`)."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for inner in ast.walk(node):
            for body in (getattr(inner, f, None) for f in ("body", "orelse", "finalbody")):
                for statement in body if isinstance(body, list) else ():
                    if not isinstance(statement, DELETED):
                        continue
                    value = getattr(statement, "value", None)
                    if isinstance(statement, ast.Expr) and isinstance(value, ast.Constant):
                        continue  # a docstring or `...`
                    found.add(id(statement))
    return found


def _sites(tree: ast.AST) -> Iterator[tuple[ast.AST, int, str]]:
    """Every place one mutation can be made: (node, operator position, description).

    Sites are named by their node, not their operator: CPython shares one instance per operator.
    """
    skipped = _annotation_ids(tree)
    shields = _shield_ids(tree)
    deletable = _deletable_ids(tree)
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if id(node) in deletable:
            yield node, 0, "statement deleted"
        elif id(node) in shields:
            yield node, 0, f"shield={node.value} -> shield={not node.value}"  # type: ignore[attr-defined]
        elif isinstance(node, ast.Compare):
            for position, op in enumerate(node.ops):
                if type(op) in SWAPS:
                    yield node, position, f"{type(op).__name__} -> {SWAPS[type(op)].__name__}"
        elif isinstance(node, ast.BoolOp | ast.BinOp) and type(node.op) in SWAPS:
            yield node, 0, f"{type(node.op).__name__} -> {SWAPS[type(node.op)].__name__}"
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            yield node, 0, "not removed"
        elif isinstance(node, ast.Constant) and isinstance(node.value, bool):
            yield node, 0, f"{node.value} -> {not node.value}"
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float):
            yield node, 0, f"{node.value!r} -> {node.value + 1!r}"


def _statement_starts(tree: ast.AST) -> dict[int, int]:
    """For every node, the first line of the innermost statement holding it."""
    starts: dict[int, int] = {}

    def visit(node: ast.AST, start: int) -> None:
        if isinstance(node, ast.stmt):
            start = node.lineno
        starts[id(node)] = start
        for child in ast.iter_child_nodes(node):
            visit(child, start)

    visit(tree, 0)
    return starts


def list_mutants(module: str) -> list[Mutant]:
    text = (ROOT / module).read_text()
    lines = text.splitlines()
    tree = ast.parse(text)
    starts = _statement_starts(tree)
    found = []
    for index, (node, _, description) in enumerate(_sites(tree)):
        line = getattr(node, "lineno", 0)
        source = lines[line - 1].strip() if line else ""
        first = min(starts.get(id(node), line) or line, line)
        reached = tuple(range(first, (getattr(node, "end_lineno", None) or line) + 1))
        found.append(Mutant(module, index, line, source, description, reached))
    return found


class _Apply(ast.NodeTransformer):
    """Makes the mutation at site `index` (walk order), leaving the rest of the tree as it was."""

    def __init__(self, index: int, tree: ast.AST) -> None:
        self.target, self.position, _ = list(_sites(tree))[index]

    def generic_visit(self, node: ast.AST) -> ast.AST:
        super().generic_visit(node)
        if node is not self.target:
            return node
        if isinstance(node, DELETED):
            return ast.copy_location(ast.Pass(), node)
        if isinstance(node, ast.Compare):
            ops = list(node.ops)
            ops[self.position] = SWAPS[type(ops[self.position])]()
            node.ops = ops
        elif isinstance(node, ast.BoolOp | ast.BinOp):
            node.op = SWAPS[type(node.op)]()
        elif isinstance(node, ast.UnaryOp):
            return node.operand
        elif isinstance(node, ast.Constant):
            value = node.value
            return ast.Constant(not value if isinstance(value, bool) else value + 1)
        return node


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((ROOT / mutant.module).read_text())
    new_tree = _Apply(mutant.index, tree).visit(tree)
    return ast.unparse(ast.fix_missing_locations(new_tree))


def _pytest_args(tests: list[str], basetemp: Path) -> list[str]:
    # -W ignore: a warning a mutant causes is not what kills it; the assertions are
    return ["-x", "-q", "-p", "no:cacheprovider", "-W", "ignore", f"--basetemp={basetemp}", *tests]


def _third_party(module: object) -> bool:
    """Installed in the virtualenv or the standard library, not ours (nor a test module)."""
    file = getattr(module, "__file__", None)
    if not file:
        return False
    prefixes = {sys.prefix, sys.base_prefix, sys.exec_prefix}
    return any(os.path.abspath(file).startswith(p + os.sep) for p in prefixes)


class _TestContexts:
    """A pytest plugin naming coverage's context after the running test, setup and teardown
    included, so a line run by a background task is put down to the test it ran during."""

    def __init__(self, cov: Any, durations: dict[str, float]) -> None:
        self.cov = cov
        self.durations = durations
        self.started = 0.0

    def pytest_runtest_logstart(self, nodeid: str) -> None:
        self.cov.switch_context(nodeid)
        self.started = time.perf_counter()

    def pytest_runtest_logfinish(self, nodeid: str) -> None:
        self.cov.switch_context("")
        self.durations[nodeid] = time.perf_counter() - self.started


def _traced_main(args: list[str], trace: dict[str, Any]) -> int:
    """pytest.main under coverage, one context per test; saves the data and each test's time."""
    import coverage
    import pytest

    cov = coverage.Coverage(
        data_file=trace["data_file"], include=trace["include"], concurrency=["thread", "greenlet"]
    )
    durations: dict[str, float] = {}
    cov.start()
    try:
        code = int(pytest.main(args, plugins=[_TestContexts(cov, durations)]))
    finally:
        cov.stop()
        cov.save()
    Path(trace["order_file"]).write_text(json.dumps(durations))
    return code


def _fork_pytest(
    args: list[str],
    log: Path,
    names_out: int | None = None,
    trace: dict[str, Any] | None = None,
) -> int:
    """Runs one pytest session in a child process; its exit code (-1 when past the limit).

    With `names_out`, the child writes there the third-party modules the session imported; with
    `trace`, the session runs under coverage (see `_traced_main`).
    """
    pid = os.fork()
    if pid == 0:  # the child: its own process group, so a service a test starts dies with it
        os.setpgid(0, 0)
        fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        code = 1
        try:
            import pytest

            code = _traced_main(args, trace) if trace else int(pytest.main(args))
            if names_out is not None:
                names = [n for n, m in list(sys.modules.items()) if _third_party(m)]
                os.write(names_out, "\n".join(names).encode())
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    deadline = time.monotonic() + SESSION_LIMIT
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return -1
        time.sleep(0.02)


def _warm_up(tests: list[str], log: Path) -> None:
    """Imports the third-party modules a collection of `tests` imports (in a child, then here)."""
    read_end, write_end = os.pipe()
    _fork_pytest(["--collect-only", *_pytest_args(tests, log.parent / "tmp")], log, write_end)
    os.close(write_end)
    data = b""
    while chunk := os.read(read_end, 1 << 16):
        data += chunk
    os.close(read_end)
    for name in data.decode().split("\n"):
        try:
            importlib.import_module(name)
        except Exception:  # noqa: S112 - a module that imports only in context: it loads later
            continue
    ours = [n for n in sys.modules if n.partition(".")[0] in ("agent_service", "agent_testkit")]
    if ours:  # imported before the fork, a module would be the original, not the mutant
        sys.exit(f"warming up imported our own modules: {', '.join(ours)}")


def serve(tests: list[str]) -> None:
    """A worker process: warm up, then one forked pytest session per line read on stdin."""
    log = Path(os.environ["MUTATION_SANDBOX"]) / "pytest.log"
    answers = os.fdopen(os.dup(1), "w")  # what a module prints while imported goes to stderr
    os.dup2(2, 1)
    _warm_up(tests, log)
    print("ready", file=answers, flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        args = _pytest_args(request["tests"], log.parent / "tmp")
        trace = request.get("trace")
        if trace:
            args.remove("-x")  # every test's lines are wanted, and the baseline must pass whole
        code = _fork_pytest(args, log, trace=trace)
        print(code, file=answers, flush=True)


class Sandbox:
    """A copy of both packages' sources, put first on PYTHONPATH, and its warm worker process."""

    def __init__(self, tests: list[str], database_url: str | None = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="mutation-"))
        for src in (SERVICE, KIT):
            shutil.copytree(
                ROOT / src, self.directory / src, ignore=shutil.ignore_patterns("__pycache__")
            )
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(str(self.directory / s) for s in (SERVICE, KIT)),
            "PYTHONDONTWRITEBYTECODE": "1",
            "MUTATION_SANDBOX": str(self.directory),
        }
        env.pop("TEST_DATABASE_URL", None)
        if database_url:  # the tests' PostgreSQL pass: each test makes its own database
            env["TEST_DATABASE_URL"] = database_url
        command = [sys.executable, __file__, "--serve", *tests]
        self.worker = subprocess.Popen(
            command, cwd=ROOT, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        assert self.worker.stdout is not None
        if self.worker.stdout.readline().strip() != "ready":
            sys.exit(f"the mutation worker did not start: see {self.directory / 'pytest.log'}")

    def run_tests(
        self, tests: list[str], mutant: Mutant | None, trace: dict[str, Any] | None = None
    ) -> bool:
        """True when the tests pass (with the mutant in place, if one is given)."""
        target = self.directory / mutant.module if mutant else None
        original = target.read_text() if target else ""
        if target and mutant:
            target.write_text(mutated_source(mutant))
        try:
            assert self.worker.stdin is not None
            assert self.worker.stdout is not None
            self.worker.stdin.write(json.dumps({"tests": tests, "trace": trace}) + "\n")
            self.worker.stdin.flush()
            return int(self.worker.stdout.readline()) == 0
        finally:
            if target:
                target.write_text(original)

    def trace(self, tests: list[str], modules: list[str]) -> dict[str, Coverage]:
        """Runs the unmutated tests under coverage: which test ran each line of each module."""
        data_file = self.directory / "coverage.db"
        order_file = self.directory / "order.txt"
        for stale in (data_file, order_file):
            stale.unlink(missing_ok=True)
        files = {module: str(self.directory / module) for module in modules}
        trace = {
            "data_file": str(data_file),
            "include": list(files.values()),
            "order_file": str(order_file),
        }
        if not self.run_tests(tests, None, trace):
            print(self.log()[-5000:])
            sys.exit(f"the tests of {', '.join(modules)} fail without any mutant: fix them first")
        import coverage

        data = coverage.CoverageData(basename=str(data_file))
        data.read()
        durations: dict[str, float] = json.loads(order_file.read_text())
        # fastest first: a mutant most tests notice dies in the first, shortest one (-x)
        order = sorted(durations, key=lambda test: durations[test])
        return {
            module: Coverage(
                {line: set(names) for line, names in data.contexts_by_lineno(file).items()},
                order,
                durations,
            )
            for module, file in files.items()
        }

    def log(self) -> str:
        return (self.directory / "pytest.log").read_text(errors="replace")

    def first_failure(self) -> str:
        """The test that failed in the last session (from pytest's short summary)."""
        _, _, summary = self.log().partition("short test summary info")
        for line in summary.splitlines():
            if line.startswith(("FAILED ", "ERROR ")):
                outcome, _, test = line.split(" - ", 1)[0].partition(" ")
                return f"{test} ({outcome.lower()})"
        return "no test failed: the session itself did (collection, or past the limit)"

    def close(self) -> None:
        if self.worker.stdin:
            self.worker.stdin.close()
        self.worker.wait()
        shutil.rmtree(self.directory, ignore_errors=True)


@dataclass
class Coverage:
    """Which tests ran each line of a module ("" for import time and between tests)."""

    by_line: dict[int, set[str]]
    order: list[str]  # every test, the fastest first
    durations: dict[str, float]  # seconds each took in the traced run, setup included

    def within(self, tests: list[str], budget_s: float) -> list[str]:
        """The first of `tests` whose traced times add up to `budget_s` (one at least)."""
        chosen: list[str] = []
        spent = 0.0
        for test in tests:
            spent += self.durations.get(test, 0.0)
            if chosen and spent > budget_s:
                break
            chosen.append(test)
        return chosen

    def tests_reaching(self, mutant: Mutant) -> list[str] | None:
        """The tests that ran the mutant's statement, the fastest first: [] when none did, None
        when it ran at import (a module-level value every test may read: all must run)."""
        names: set[str] = set()
        for line in mutant.lines:
            names |= self.by_line.get(line, set())
        if "" in names:
            return None
        return [test for test in self.order if test in names]


@dataclass
class Result:
    mutants: list[Mutant]
    survivors: list[Mutant]
    equivalent: list[Mutant]
    killers: dict[Mutant, str]  # the test that failed first on each killed mutant
    unreached: list[Mutant]  # survivors no test ran the statement of
    # survivors of a --budget-s run that ran only the fastest of the tests reaching them: a
    # slower one might kill them, so the score is a lower bound
    budgeted: dict[Mutant, tuple[int, int]] = field(default_factory=dict)

    @property
    def counted(self) -> int:
        return len(self.mutants) - len(self.equivalent)

    @property
    def killed(self) -> int:
        return self.counted - len(self.survivors)


def test_files(module: str) -> list[str]:
    """The module's test files, globs expanded, in the order TARGETS lists them."""
    found: list[str] = []
    for pattern in TARGETS[module]:
        for path in sorted(ROOT.glob(pattern)):
            name = str(path.relative_to(ROOT))
            if name not in found:
                found.append(name)
    return found


def _score_module(
    module: str,
    reach: Coverage,
    sandboxes: list[Sandbox],
    free: list[Sandbox],
    lock: threading.Lock,
    *,
    confirm: bool,
    lines: set[int] | None = None,
    budget_s: float | None = None,
) -> Result:
    """One module's mutants, those its tests let through and those that change nothing.

    Each mutant runs only the tests that ran its statement (all of them for a statement run at
    import); one no test ran survives without a run. With `confirm`, a survivor is run again
    against every test of the module: a line run only in a served subprocess is not traced.
    """
    tests = test_files(module)
    mutants = [m for m in list_mutants(module) if lines is None or m.line in lines]
    equivalent = [m for m in mutants if m.equivalence]
    survivors: list[Mutant] = []
    unreached: list[Mutant] = []
    killers: dict[Mutant, str] = {}
    cut: dict[Mutant, tuple[int, int]] = {}  # tests run, tests reaching: a budget cut them
    done = 0

    def check(mutant: Mutant) -> None:
        nonlocal done
        selected = reach.tests_reaching(mutant)
        first = tests if selected is None else selected
        if budget_s is not None:
            whole = reach.order if selected is None else selected
            first = reach.within(whole, budget_s)
            if len(first) < len(whole):
                cut[mutant] = (len(first), len(whole))
        runs = [first]
        if confirm and selected is not None:
            runs.append(tests)
        passed, killer = True, ""
        for chosen in runs:
            if not chosen:
                continue
            with lock:
                sandbox = free.pop()
            try:
                passed = sandbox.run_tests(chosen, mutant)
                killer = "" if passed else sandbox.first_failure()
            finally:
                with lock:
                    free.append(sandbox)
            if not passed:
                break
        with lock:
            done += 1
            if passed:
                survivors.append(mutant)
                if not selected and selected is not None and not confirm:
                    unreached.append(mutant)
            else:
                killers[mutant] = killer
            line = f"{short_name(module)}: {done}/{len(mutants) - len(equivalent)}"
            print(f"\r{line}, {len(survivors)} survived", end="", flush=True)

    with ThreadPoolExecutor(len(sandboxes)) as pool:
        list(pool.map(check, [m for m in mutants if not m.equivalence]))
    print()
    ordered = sorted(survivors, key=lambda m: m.line)
    budgeted = {m: cut[m] for m in ordered if m in cut}
    return Result(mutants, ordered, equivalent, killers, unreached, budgeted)


def score(
    modules: list[str],
    workers: int,
    *,
    confirm: bool = False,
    lines: set[int] | None = None,
    threshold: float | None = None,
    budget_s: float | None = None,
    database_url: str | None = None,
) -> dict[str, Result]:
    """Per module: its mutants, the survivors and the known equivalents.

    Modules that share a list of tests are traced together, in one run under coverage.
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for module in modules:
        groups.setdefault(tuple(test_files(module)), []).append(module)
    every_test = sorted({t for tests in groups for t in tests})
    sandboxes = [Sandbox(every_test, database_url) for _ in range(workers)]
    free = list(sandboxes)
    lock = threading.Lock()
    results: dict[str, Result] = {}
    try:
        for tests, members in groups.items():
            started = time.perf_counter()
            reaches = sandboxes[0].trace(list(tests), members)
            print(f"traced {len(tests)} test files in {time.perf_counter() - started:.0f} s")
            for module in members:
                results[module] = _score_module(
                    module,
                    reaches[module],
                    sandboxes,
                    free,
                    lock,
                    confirm=confirm,
                    lines=lines,
                    budget_s=budget_s,
                )
                if len(modules) > 1:  # as soon as it is done: a run stopped early keeps it
                    _report({module: results[module]}, threshold, show_kills=False)
        return {module: results[module] for module in modules}
    finally:
        for sandbox in sandboxes:
            sandbox.close()


def threshold_for(module: str, asked: float | None) -> float:
    """The score a module must reach: the one asked for, else 90 % for the first six modules
    and 85 % for those issue 21 added (runs, idempotency, quotas, processing, GitHub jobs)."""
    if asked is not None:
        return asked
    return 90.0 if module in FIRST_MODULES else 85.0


def _report(results: dict[str, Result], threshold: float | None, *, show_kills: bool) -> bool:
    """Prints the table (and every survivor); True when every module reaches its threshold."""
    passed = True
    print(f"\n{'module':<44} {'mutants':>7} {'equiv':>5} {'killed':>6} {'score':>6}")
    for module, result in results.items():
        percent = 100.0 * result.killed / result.counted if result.counted else 100.0
        passed &= percent >= threshold_for(module, threshold)
        name = module.split("/src/", 1)[-1]
        row = f"{len(result.mutants):>7} {len(result.equivalent):>5} {result.killed:>6}"
        print(f"{name:<44} {row} {percent:>5.1f}%")
        for mutant in result.equivalent:
            print(f"    equivalent: line {mutant.line}: {mutant.description}: {mutant.equivalence}")
        for mutant in result.survivors:
            unreached = " (no test runs this line)" if mutant in result.unreached else ""
            if mutant in result.budgeted:
                ran, reaching = result.budgeted[mutant]
                unreached = f" (within the budget: the fastest {ran} of {reaching} tests)"
            print(
                f"    survived{unreached}: line {mutant.line}: {mutant.description}: {mutant.source}"
            )
        for mutant, killer in sorted(result.killers.items(), key=lambda k: k[0].line):
            if show_kills:  # to tell a kill from a flaky failure of an unrelated test
                print(f"    killed: line {mutant.line}: {mutant.description}: by {killer}")
    mutants = sum(len(r.mutants) for r in results.values())
    equivalent = sum(len(r.equivalent) for r in results.values())
    killed = sum(r.killed for r in results.values())
    total = 100.0 * killed / (mutants - equivalent) if mutants > equivalent else 100.0
    print(f"{'total':<44} {mutants:>7} {equivalent:>5} {killed:>6} {total:>5.1f}%")
    return passed


def _stale_equivalents(modules: list[str]) -> list[tuple[str, str, str]]:
    """Entries of EQUIVALENT that match no mutant of the modules scored: the code moved on."""
    names = {short_name(m) for m in modules}
    seen = {
        (short_name(m.module), m.source, m.description)
        for mod in modules
        for m in list_mutants(mod)
    }
    return [key for key in EQUIVALENT if key[0] in names and key not in seen]


def main() -> int:
    if sys.argv[1:2] == ["--serve"]:
        serve(sys.argv[2:])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("words", nargs="*", help="only modules whose path contains one of these")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--threshold", type=float, help="minimum score, percent (default 90, issue 21's modules 85)"
    )
    parser.add_argument("--kills", action="store_true", help="name the test that killed each one")
    parser.add_argument(
        "--lines",
        help="only the mutants on these lines (comma-separated): survivors again, after new tests",
    )
    parser.add_argument(
        "--budget-s",
        type=float,
        help="run each mutant's fastest reaching tests only, up to this many seconds of their "
        "traced time: a quick lower bound of the score (its survivors say so)",
    )
    parser.add_argument(
        "--postgres",
        metavar="URL",
        help="run the tests on PostgreSQL (TEST_DATABASE_URL), for what only it tells apart: "
        "row locks, LISTEN/NOTIFY, SKIP LOCKED",
    )
    parser.add_argument(
        "--confirm",
        action="store_true",
        help="run each survivor again against all the module's tests, not only those that ran it",
    )
    args = parser.parse_args()
    modules = [m for m in TARGETS if not args.words or any(w in m for w in args.words)]
    started = time.perf_counter()
    lines = {int(n) for n in args.lines.split(",")} if args.lines else None
    results = score(
        modules,
        args.workers,
        confirm=args.confirm,
        lines=lines,
        threshold=args.threshold,
        budget_s=args.budget_s,
        database_url=args.postgres,
    )
    passed = _report(results, args.threshold, show_kills=args.kills)
    for key in _stale_equivalents(modules):  # the code moved on: the reason may no longer hold
        print(f"EQUIVALENT lists a mutant that no longer exists, remove it: {key}")
        passed = False
    print(f"\n{time.perf_counter() - started:.0f} s")
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
