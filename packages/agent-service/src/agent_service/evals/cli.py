"""`agent-service eval run|accept|report|plan|judge-agreement`: the golden set through the service, its
gate, its reports, and how far its judge agrees with people.

The test kit (`agent_testkit`) is imported only when a command runs: the service does not need it
otherwise, and a missing kit is a sentence saying how to install it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

if TYPE_CHECKING:
    from agent_service.evals.sandbox import LLMEndpoint
    from agent_testkit.evals import EvalRun

eval_app = typer.Typer(
    help="Evals: the golden set, its scores per slice, and the regression gate.",
    no_args_is_help=True,
)
console = Console(stderr=True)

GOLDEN = Path("evals/golden")
BASELINE = Path("evals/baseline.json")
OUT = Path("var/evals")
EXIT_REGRESSED, EXIT_USAGE = 1, 2

BaselineOption = Annotated[
    Path, typer.Option(metavar="FILE", help="The committed baseline to compare with.")
]
OutOption = Annotated[
    Path, typer.Option(metavar="DIR", help="Where results.json, junit.xml and report.html go.")
]
MaxDropOption = Annotated[
    float,
    typer.Option(
        metavar="POINTS",
        help="Fail when the overall score or a slice drops by more than this (points).",
    ),
]


def _require_kit() -> None:
    try:
        import agent_testkit.evals  # noqa: F401
    except ImportError as exc:
        console.print(
            "[red]Evals need the test kit: pip install agent-testkit (or `make install`).[/red]"
        )
        raise typer.Exit(EXIT_USAGE) from exc


@eval_app.command("run")
def run(
    model: Annotated[
        str,
        typer.Option(
            metavar="scripted|replay|live",
            help="scripted (the cases' scripts), replay (cassettes) or live (LLM_* settings).",
        ),
    ] = "scripted",
    golden: Annotated[
        Path, typer.Option(metavar="DIR", help="Folder of the golden case files.")
    ] = GOLDEN,
    baseline: BaselineOption = BASELINE,
    cassettes: Annotated[
        Path, typer.Option(metavar="DIR", help="Folder of the cases' cassettes.")
    ] = Path("evals/cassettes"),
    out: OutOption = OUT,
    max_drop: MaxDropOption = 2.0,
    concurrency: Annotated[int, typer.Option(metavar="N", min=1, help="Cases run at once.")] = 8,
    case: Annotated[
        list[str] | None,
        typer.Option(
            "--case",
            "-k",
            metavar="PATTERN",
            help="Only cases whose id or tag matches (glob; repeatable).",
        ),
    ] = None,
    record: Annotated[
        bool, typer.Option(help="With --model live: record each case's cassette.")
    ] = False,
    epochs: Annotated[
        int,
        typer.Option(metavar="N", min=1, help="Run each case this many times; scores are means."),
    ] = 1,
    variation: Annotated[
        float | None,
        typer.Option(
            metavar="P",
            min=0.0,
            max=1.0,
            help="Scripted: the chance an epoch's final reply comes out vague "
            "(default 0.1 with --epochs > 1, else 0: exact).",
        ),
    ] = None,
    seed: Annotated[
        int, typer.Option(metavar="N", help="Seed of the variation and the intervals.")
    ] = 0,
    gate: Annotated[bool, typer.Option(help="Exit 1 when a score regressed.")] = True,
    min_kappa: Annotated[
        float,
        typer.Option(
            metavar="KAPPA",
            envvar="EVAL_JUDGE_MIN_KAPPA",
            help="The judge gates only when the lower bound of its Cohen's kappa (95%, from "
            "evals/judge/calibration.json) is at least this; else the gate refuses.",
        ),
    ] = 0.6,
    input_price: Annotated[
        float,
        typer.Option(
            metavar="USD",
            min=0.0,
            envvar="EVAL_INPUT_PRICE",
            help="Price of a million prompt tokens, for the report's costs.",
        ),
    ] = 0.0,
    output_price: Annotated[
        float,
        typer.Option(
            metavar="USD",
            min=0.0,
            envvar="EVAL_OUTPUT_PRICE",
            help="Price of a million completion tokens, for the report's costs.",
        ),
    ] = 0.0,
    verbose: Annotated[
        bool, typer.Option(help="Show the service's warnings while cases run.")
    ] = False,
    resume: Annotated[
        bool,
        typer.Option(
            help="Go on with an interrupted run: the attempts it finished (OUT/attempts.jsonl, "
            "same model, seed and variation, case unchanged) are kept, only the rest run."
        ),
    ] = False,
    rate_limit: Annotated[
        float | None,
        typer.Option(
            metavar="N",
            min=0.1,
            envvar="EVAL_RATE_LIMIT",
            help="Start at most N attempts a minute, evenly spaced (with --concurrency at once).",
        ),
    ] = None,
) -> None:
    """Run the golden set through the service, write the reports, and gate against the baseline."""
    _require_kit()
    from agent_service.evals.model_side import ModelMode
    from agent_service.evals.reporting import progress_bar, write_outputs
    from agent_service.evals.suite import EvalOptions, run_suite
    from agent_testkit.evals.spend import Prices

    try:
        mode = ModelMode(model)
    except ValueError:
        console.print(f"[red]--model {model!r}: use scripted, replay or live.[/red]")
        raise typer.Exit(EXIT_USAGE) from None
    options = EvalOptions(
        golden_dir=golden,
        baseline=baseline,
        cassette_dir=cassettes,
        model=mode,
        concurrency=concurrency,
        max_drop=max_drop,
        select=tuple(case or ()),
        record=record,
        live=_live_endpoint() if mode == ModelMode.LIVE else None,
        epochs=epochs,
        variation=(0.1 if epochs > 1 else 0.0) if variation is None else variation,
        seed=seed,
        min_kappa=min_kappa,
        prices=Prices(input_price, output_price),
        journal=out / "attempts.jsonl",
        resume=resume,
        rate_per_minute=rate_limit,
    )
    service_logs = logging.getLogger("agent_service")
    level = service_logs.level
    if not verbose:  # the cases provoke failures on purpose; their results say what happened
        service_logs.setLevel(logging.CRITICAL)
    with progress_bar(console) as (on_start, on_result):
        try:
            result = asyncio.run(run_suite(options, on_start=on_start, on_result=on_result))
        except ValueError as exc:
            console.print(f"[red]{exc}[/red]")
            raise typer.Exit(EXIT_USAGE) from exc
        finally:
            service_logs.setLevel(level)
    paths = write_outputs(result, out)
    _finish(result, paths, gate=gate)


@eval_app.command("accept")
def accept(
    results: Annotated[
        Path, typer.Option(metavar="FILE", help="The results of `eval run` to accept.")
    ] = OUT / "results.json",
    baseline: BaselineOption = BASELINE,
) -> None:
    """Make a run's scores the new baseline (after a deliberate change, reviewed in its report)."""
    _require_kit()
    from agent_testkit.evals import Baseline, load_results

    if not results.exists():
        console.print(f"[red]{results} does not exist: run `agent-service eval run` first.[/red]")
        raise typer.Exit(EXIT_USAGE)
    run_ = load_results(results)
    if run_.selection:
        console.print(
            f"[red]{results} is a filtered run ({', '.join(run_.selection)}): accept a full run.[/red]"
        )
        raise typer.Exit(EXIT_USAGE)
    Baseline.from_scores(run_.scores, model=run_.model).save(baseline)
    console.print(
        f"Wrote {baseline}: overall {run_.scores.overall:.2f} over {len(run_.outcomes)} cases "
        f"({run_.epochs} epoch{'' if run_.epochs == 1 else 's'} each), {len(run_.scores.slices)} slices.",
        soft_wrap=True,
    )


@eval_app.command("report")
def report(
    results: Annotated[Path, typer.Option(metavar="FILE", help="The results of `eval run`.")] = OUT
    / "results.json",
    baseline: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="Compare with this baseline instead of the run's own."),
    ] = None,
    out: OutOption = OUT,
    max_drop: MaxDropOption = 2.0,
    check: Annotated[bool, typer.Option(help="Exit 1 when the gate fails.")] = False,
) -> None:
    """Render the HTML report and JUnit XML of a results file again, against a baseline."""
    _require_kit()
    from agent_service.evals.reporting import write_outputs
    from agent_testkit.evals import Baseline, BaselineError, load_results

    try:
        chosen = Baseline.load(baseline) if baseline is not None else None
        run_ = load_results(results, baseline=chosen, max_drop=max_drop)
    except (OSError, BaselineError, ValueError, KeyError) as exc:
        console.print(f"[red]cannot read {results}: {exc}[/red]")
        raise typer.Exit(EXIT_USAGE) from exc
    paths = write_outputs(run_, out)
    _finish(run_, paths, gate=check)


def _integers(text: str, option: str) -> list[int]:
    try:
        values = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        values = []
    if not values or min(values) < 1:
        console.print(
            f"[red]{option} {text!r}: give whole numbers, comma-separated (8,14,22).[/red]"
        )
        raise typer.Exit(EXIT_USAGE)
    return values


@eval_app.command("plan")
def plan(
    slice_sizes: Annotated[
        str | None,
        typer.Option(
            metavar="N,N,...",
            help="Cases per slice (default: the golden set's slices); overall is their sum.",
        ),
    ] = None,
    epochs: Annotated[
        str, typer.Option(metavar="K,K,...", help="Epochs per case to plan for.")
    ] = "1,5",
    drop: Annotated[
        float, typer.Option(metavar="POINTS", help="The true drop the gate should catch.")
    ] = 3.0,
    golden: Annotated[
        Path, typer.Option(metavar="DIR", help="Folder of the golden case files.")
    ] = GOLDEN,
    baseline: Annotated[
        Path | None,
        typer.Option(metavar="FILE", help="A baseline with epochs: its measured noise is used."),
    ] = BASELINE,
    max_drop: MaxDropOption = 2.0,
    alpha: Annotated[
        float, typer.Option(metavar="A", help="The gate's family-wise false-alarm rate.")
    ] = 0.05,
    flaky: Annotated[
        float,
        typer.Option(metavar="SHARE", min=0.0, max=0.9, help="Noise model: share of flaky cases."),
    ] = 0.2,
) -> None:
    """Before a run: the gate's power to catch a drop on each slice, and the epochs or cases that
    reach 80%."""
    _require_kit()
    from agent_service.evals.planning import (
        MAX_EPOCHS,
        attempt_noise,
        golden_slice_sizes,
        make_plan,
        needed_text,
        numbered_sizes,
    )

    sizes = (
        numbered_sizes(_integers(slice_sizes, "--slice-sizes"))
        if slice_sizes
        else golden_slice_sizes(golden)
    )
    variance, noise = attempt_noise(baseline, flaky)
    found = make_plan(
        sizes,
        _integers(epochs, "--epochs"),
        drop=drop,
        max_drop=max_drop,
        alpha=alpha,
        variance=variance,
        noise=noise,
    )
    table = Table(
        title=f"Power to catch a {drop:g}-point drop ({found.comparisons} comparisons, Holm, "
        f"family-wise alpha {alpha:g}, threshold {max_drop:g} points)"
    )
    table.add_column("slice", no_wrap=True, min_width=max(len(name) for name in sizes))
    for column in ("cases", "epochs", "power", "80%: drop", "80%: epochs", "80%: cases"):
        table.add_column(column, justify="right")
    for row in found.rows:
        table.add_row(
            row.name,
            str(row.cases),
            str(row.epochs),
            f"{row.power:.0%}",
            f"{row.detectable:.1f}",
            needed_text(row.epochs_needed, MAX_EPOCHS),
            needed_text(row.cases_needed, 100_000),
        )
    console.print(table)
    console.print(f"noise: {found.noise}", highlight=False, soft_wrap=True)
    small = sorted({r.name for r in found.rows if r.power < 0.8})
    if small:
        console.print(
            f"under 80% at some planned epochs: {', '.join(small)}; add the cases or epochs shown",
            highlight=False,
            soft_wrap=True,
        )


@eval_app.command("judge-agreement")
def judge_agreement(
    model: Annotated[
        str,
        typer.Option(
            metavar="scripted|replay|live",
            help="scripted (the labelled set's `judge:` answers), replay (the cassette) or live.",
        ),
    ] = "scripted",
    labelled: Annotated[
        Path, typer.Option(metavar="FILE", help="The labelled judge cases.")
    ] = Path("evals/judge/labelled.yaml"),
    cassette: Annotated[
        Path, typer.Option(metavar="FILE", help="The judge's cassette (replay, --record).")
    ] = Path("evals/cassettes/judge-agreement.yaml"),
    record: Annotated[
        bool, typer.Option(help="With --model live: cache the judge's answers in the cassette.")
    ] = False,
    out: OutOption = OUT,
    min_kappa: Annotated[
        float | None,
        typer.Option(metavar="KAPPA", help="Exit 1 when a rubric's Cohen's kappa is below this."),
    ] = None,
    save: Annotated[
        bool,
        typer.Option(
            help="Keep the judge's kappa (all rubrics) in the calibration file: `eval run` "
            "gates on this judge only if its lower bound is high enough."
        ),
    ] = False,
    calibration: Annotated[
        Path, typer.Option(metavar="FILE", help="The calibration file --save writes.")
    ] = Path("evals/judge/calibration.json"),
) -> None:
    """Measure the judge: accuracy and Cohen's kappa (with its 95% interval) per rubric against
    people's verdicts."""
    _require_kit()
    from agent_service.evals.judging import CassetteError, measure_agreement
    from agent_service.evals.model_side import ModelMode
    from agent_testkit.evals import CaseFormatError
    from agent_testkit.evals.agreement import load_judge_cases
    from agent_testkit.evals.judge_check import save_calibration

    try:
        mode = ModelMode(model)
        cases = load_judge_cases(labelled)
        live = _live_endpoint() if mode is ModelMode.LIVE else None
        found = asyncio.run(
            measure_agreement(cases, mode, cassette=cassette, live=live, record=record)
        )
    except (ValueError, CaseFormatError, CassetteError, OSError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(EXIT_USAGE) from exc
    table = Table(title=f"Judge agreement ({found.model}, {len(cases)} labelled cases)")
    for column in ("rubric", "cases", "people: pass", "accuracy", "Cohen's kappa", "95% interval"):
        table.add_column(column, justify="left" if column == "rubric" else "right")
    for row in found.rows:
        kappa = "—" if row.kappa is None else f"{row.kappa:.2f}"
        ci = row.interval
        shown = "—" if ci is None else f"{ci.low:.2f}..{ci.high:.2f}"
        table.add_row(
            row.rubric, str(row.cases), str(row.passes), f"{row.accuracy:.0%}", kappa, shown
        )
    console.print(table)
    for row in found.rows:
        if row.rubric != "all":
            for line in row.disagreements:
                console.print(f"  disagrees ({row.rubric}): {line}", highlight=False)
    console.print(f"wrote {found.write(out / 'judge-agreement.json')}")
    if save:
        measured_at = datetime.now(UTC).isoformat(timespec="seconds")
        kept = save_calibration(calibration, found.calibration(labelled.read_bytes(), measured_at))
        console.print(f"wrote {kept} (judge {found.model!r})")
    low = [r.rubric for r in found.rows if min_kappa is not None and (r.kappa or 0.0) < min_kappa]
    if low:
        console.print(f"[red]kappa below {min_kappa:g} for {', '.join(low)}[/red]")
        raise typer.Exit(EXIT_REGRESSED)


def _live_endpoint() -> LLMEndpoint:
    from agent_service.evals.sandbox import live_endpoint
    from agent_service.settings import Settings

    endpoint = live_endpoint(Settings())
    if endpoint is None:
        console.print(
            "[red]--model live needs LLM_API_KEY (and LLM_BASE_URL, LLM_MODEL) set.[/red]"
        )
        raise typer.Exit(EXIT_USAGE)
    return endpoint


def _finish(result: EvalRun, paths: list[Path], *, gate: bool) -> None:
    from agent_service.evals.reporting import print_run

    print_run(console, result)
    for warning in result.gate.warnings:
        console.print(f"[yellow]warning: {warning}[/yellow]")
    for path in paths:
        console.print(f"wrote {path}")
    console.print(result.gate.summary())
    if gate and not result.gate.has_baseline:
        raise typer.Exit(EXIT_USAGE)
    if gate and not result.gate.passed:
        raise typer.Exit(EXIT_REGRESSED)
