"""Run the golden set: load and select cases, prepare the sandbox, run each case (app, users, data,
turns, graders) at the model side asked for, and score and gate the results."""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx

from agent_service.evals.conversation import converse
from agent_service.evals.judging import check_judges, judge_models, judged
from agent_service.evals.model_side import (
    ModelMode,
    ModelSide,
    Variation,
    judge_description,
    model_side,
    shared_endpoint,
)
from agent_service.evals.sandbox import CaseApp, LLMEndpoint, Sandbox
from agent_service.evals.workspace import SetupError, apply_setup, register_user
from agent_testkit.evals import (
    DEFAULT_MAX_DROP,
    Baseline,
    Case,
    CaseResult,
    EvalRun,
    GradeContext,
    Transcript,
    case_score,
    grade_case,
    load_cases,
    run_cases,
)
from agent_testkit.evals.journal import AttemptJournal
from agent_testkit.evals.judge_check import DEFAULT_MIN_KAPPA
from agent_testkit.evals.runner import RateLimit
from agent_testkit.evals.spend import Prices

OnResult = Callable[[CaseResult], None]


@dataclass(frozen=True)
class EvalOptions:
    golden_dir: Path = Path("evals/golden")
    baseline: Path = Path("evals/baseline.json")
    cassette_dir: Path = Path("evals/cassettes")
    root: Path = Path()  # setup files (`file: tests/fixtures/...`) are relative to it
    model: ModelMode = ModelMode.SCRIPTED
    concurrency: int = 8
    max_drop: float = DEFAULT_MAX_DROP
    select: tuple[str, ...] = ()  # case ids or tags, shell-style patterns
    record: bool = False
    live: LLMEndpoint | None = None
    epochs: int = 1  # each case this many times; scores are means over them
    variation: float = 0.0  # scripted only: chance an epoch's final reply comes out vague
    seed: int = 0  # of the scripted variation and of the bootstrap intervals
    judge_calibration: Path = Path("evals/judge/calibration.json")
    labelled: Path = Path("evals/judge/labelled.yaml")  # what the calibration was measured on
    min_kappa: float = DEFAULT_MIN_KAPPA  # the judge gates when kappa's lower bound is this or more
    journal: Path | None = None  # each finished attempt, for --resume (None: not kept)
    resume: bool = False  # reuse the journal's attempts made the same way
    rate_per_minute: float | None = None  # attempts started a minute at most
    prices: Prices = field(default_factory=Prices)  # USD per million tokens, for the report's costs


def select_cases(cases: Sequence[Case], patterns: Sequence[str]) -> list[Case]:
    """The cases whose id or a tag matches one of `patterns` (all of them when there is none)."""
    if not patterns:
        return list(cases)
    return [
        case
        for case in cases
        if any(fnmatch.fnmatchcase(name, p) for p in patterns for name in (case.id, *case.tags))
    ]


def load_baseline(path: Path) -> Baseline | None:
    return Baseline.load(path) if path.exists() else None


async def run_suite(
    options: EvalOptions,
    *,
    on_start: Callable[[int], None] | None = None,
    on_result: OnResult | None = None,
) -> EvalRun:
    """Every selected case through the service; the scored and gated run."""
    cases = select_cases(load_cases(options.golden_dir), options.select)
    if not cases:
        raise ValueError(f"no case matches {list(options.select)!r}")
    baseline = load_baseline(options.baseline)
    judge_check = check_judges(
        judge_models(
            judged(cases), options.model, cassette_dir=options.cassette_dir, live=options.live
        ),
        calibration=options.judge_calibration,
        labelled=options.labelled,
        min_kappa=options.min_kappa,
    )
    started_at, started = datetime.now(UTC).isoformat(timespec="seconds"), time.perf_counter()
    journal = _journal(options)
    done = journal.open(cases, resume=options.resume) if journal else {}
    done = {(c, e): r for (c, e), r in done.items() if e < options.epochs}
    if on_start is not None:
        on_start(len(cases) * options.epochs - len(done))
    with tempfile.TemporaryDirectory(prefix="agent-evals-") as folder:
        sandbox = Sandbox(Path(folder))
        await asyncio.to_thread(sandbox.migrate)
        try:
            results = await _run_all(
                cases, options, sandbox, _recorded(journal, cases, on_result), done
            )
        finally:
            if journal is not None:
                journal.close()
    return EvalRun.of(
        results,
        baseline,
        max_drop=options.max_drop,
        model=options.model.value,
        started_at=started_at,
        duration_s=time.perf_counter() - started,
        selection=list(options.select),
        epochs=options.epochs,
        variation=options.variation if options.model is ModelMode.SCRIPTED else 0.0,
        seed=options.seed,
        judge=judge_description(options.model, options.live),
        judge_check=judge_check,
        prices=options.prices,
    )


def _journal(options: EvalOptions) -> AttemptJournal | None:
    """The journal of this run's attempts, keyed by how they are made."""
    if options.journal is None:
        return None
    key = {
        "model": options.model.value,
        "live": options.live.model if options.live else None,
        "seed": options.seed,
        "variation": options.variation,
    }
    return AttemptJournal(options.journal, key)


def _recorded(
    journal: AttemptJournal | None, cases: list[Case], on_result: OnResult | None
) -> OnResult | None:
    """`on_result`, each result first written to the journal."""
    if journal is None:
        return on_result
    by_id = {case.id: case for case in cases}

    def record(result: CaseResult) -> None:
        journal.record(by_id[result.case_id], result)
        if on_result is not None:
            on_result(result)

    return record


async def _run_all(
    cases: list[Case],
    options: EvalOptions,
    sandbox: Sandbox,
    on_result: OnResult | None,
    done: dict[tuple[str, int], CaseResult],
) -> list[CaseResult]:
    """Cases in `concurrency` slots. Where the model endpoint is the same for every case of a slot
    (scripted, live), the slot's app is started once and serves its cases one after another, each
    with fresh users; cassette runs start an app per case, one case at a time."""
    cassettes = options.model is ModelMode.REPLAY or options.record
    slots = 1 if cassettes else max(1, min(options.concurrency, len(cases)))
    free: asyncio.Queue[int] = asyncio.Queue()
    async with contextlib.AsyncExitStack() as stack:
        judge_client = await stack.enter_async_context(httpx.AsyncClient(timeout=120.0))
        apps: dict[int, CaseApp] = {}
        for slot in range(slots):
            free.put_nowait(slot)
            endpoint = shared_endpoint(
                options.model, slot, live=options.live, record=options.record
            )
            if endpoint is not None:
                apps[slot] = await stack.enter_async_context(sandbox.case_app(slot, endpoint))
                if options.model is ModelMode.SCRIPTED:
                    apps[slot].app.state.llm.sleep = _no_wait  # the app's seam for retry waits
        numbers = {case.id: n for n, case in enumerate(cases)}

        async def run_one(case: Case, epoch: int) -> CaseResult:
            slot = await free.get()
            try:
                side = model_side(
                    options.model,
                    case,
                    slot,
                    cassette_dir=options.cassette_dir,
                    live=options.live,
                    record=options.record,
                    judge_client=judge_client,
                    variation=Variation(options.variation, f"{options.seed}:{case.id}:{epoch}"),
                )
                if slot in apps:
                    async with side:
                        return await run_case(case, side, apps[slot], options.root)
                app_number = slots + numbers[case.id] + epoch * len(cases)
                async with side, sandbox.case_app(app_number, side.endpoint) as env:
                    if side.offline:
                        env.app.state.llm.sleep = _no_wait
                    return await run_case(case, side, env, options.root)
            finally:
                free.put_nowait(slot)

        rate = RateLimit(options.rate_per_minute) if options.rate_per_minute else None
        return await run_cases(
            cases,
            run_one,
            concurrency=slots,
            epochs=options.epochs,
            on_result=on_result,
            rate=rate,
            done=done,
        )


async def run_case(case: Case, side: ModelSide, env: CaseApp, root: Path) -> CaseResult:
    """One case in a started app (its model side entered): users, data, turns, graders. Whatever
    goes wrong is a problem of its result, never an exception."""
    started = time.perf_counter()
    transcript, clients = await _converse(case, side, env, root)
    try:
        graders, problems = await grade_case(
            case, GradeContext(transcript, clients, side.judge), variables=transcript.variables
        )
    finally:
        for client in clients.values():
            await client.aclose()
    problems = transcript.problems + problems + side.problems()
    return CaseResult(
        case.id,
        case.tags,
        case.agent,
        case_score(graders, problems),
        graders=graders,
        problems=problems,
        duration_s=time.perf_counter() - started,
        transcript=transcript.to_json(),
        description=case.description,
        known_weakness=case.known_weakness,
    )


async def _converse(
    case: Case, side: ModelSide, env: CaseApp, root: Path
) -> tuple[Transcript, dict[str, httpx.AsyncClient]]:
    """Register the case's users, make its data, script the model, send the turns."""
    clients: dict[str, httpx.AsyncClient] = {}
    own_setup = {k: v for k, v in case.setup.items() if k != "other_user"}
    try:
        async with env.client() as anonymous:
            user = await register_user(anonymous, "user")
            clients["user"] = env.client(user.headers)
            variables = await apply_setup(anonymous, user, own_setup, root=root)
            if "other_user" in case.setup:
                other = await register_user(anonymous, "other")
                clients["other"] = env.client(other.headers)
                variables |= await apply_setup(
                    anonymous, other, case.setup["other_user"], root=root, prefix="other."
                )
    except (SetupError, OSError, KeyError) as exc:
        return Transcript(problems=[f"setup failed: {exc!s}"]), clients
    problems = side.prepare(variables)
    if problems:
        return Transcript(problems=problems, variables=variables), clients
    try:
        transcript = await converse(clients["user"], case.agent, case.turns, variables)
    except KeyError as exc:
        return Transcript(
            problems=[f"a turn names nothing set up: {exc!s}"], variables=variables
        ), clients
    transcript.llm_calls = side.llm_calls()
    return transcript, clients


async def _no_wait(seconds: float) -> None:
    await asyncio.sleep(0)
