"""The pytest entry of the evals: `pytest evals/` runs the golden set once, exactly as
`agent-service eval run` does (same runner, same reports, in var/evals/pytest), and each gate check
(the overall score, each slice) is a test that fails with the cases that moved.

Not in `make test` (the root config's testpaths): `make eval` runs the CLI, CI runs both.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent_service.evals.model_side import ModelMode
from agent_service.evals.reporting import write_outputs
from agent_service.evals.sandbox import live_endpoint
from agent_service.evals.suite import EvalOptions, run_suite
from agent_service.settings import Settings
from agent_testkit.evals import EvalRun

ROOT = Path(__file__).resolve().parent.parent
EVAL_TIMEOUT_S = 1800


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evals", "the golden set of agent_service (evals/)")
    group.addoption(
        "--eval-model",
        choices=[m.value for m in ModelMode],
        default="scripted",
        help="scripted (the cases' scripts), replay (cassettes) or live (LLM_* settings)",
    )
    group.addoption("--eval-max-drop", type=float, default=2.0, help="points a score may drop")
    group.addoption("--eval-concurrency", type=int, default=8, help="cases run at once")
    group.addoption(
        "--eval-epochs", type=int, default=1, help="runs of each case (scripted: seeded variation)"
    )
    group.addoption(
        "--eval-out", default=str(ROOT / "var" / "evals" / "pytest"), help="where reports go"
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The golden set runs once, in the first test's setup: minutes, not the suite's 60 s limit."""
    for item in items:
        item.add_marker(pytest.mark.timeout(EVAL_TIMEOUT_S))


@pytest.fixture(scope="session")
def eval_run(request: pytest.FixtureRequest) -> EvalRun:
    """The whole golden set, run once per session; its reports written."""
    model = ModelMode(request.config.getoption("eval_model"))
    options = EvalOptions(
        golden_dir=ROOT / "evals" / "golden",
        baseline=ROOT / "evals" / "baseline.json",
        cassette_dir=ROOT / "evals" / "cassettes",
        judge_calibration=ROOT / "evals" / "judge" / "calibration.json",
        labelled=ROOT / "evals" / "judge" / "labelled.yaml",
        root=ROOT,
        model=model,
        concurrency=request.config.getoption("eval_concurrency"),
        max_drop=request.config.getoption("eval_max_drop"),
        live=live_endpoint(Settings()) if model is ModelMode.LIVE else None,
        epochs=request.config.getoption("eval_epochs"),
        variation=0.1 if request.config.getoption("eval_epochs") > 1 else 0.0,
    )
    if model is ModelMode.LIVE and options.live is None:
        pytest.skip("--eval-model live needs LLM_API_KEY (and LLM_BASE_URL, LLM_MODEL)")
    run = asyncio.run(run_suite(options))
    write_outputs(run, Path(request.config.getoption("eval_out")))
    return run
