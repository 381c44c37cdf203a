"""What a run shows and leaves behind: a rich progress bar while cases run (plain progress lines
when the output is not a terminal, as in CI logs), the three output files, and the summary printed
after it (the gate's checks, its rule, the judge's standing, what the run spent)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from agent_testkit.evals import CaseResult, EvalRun, write_html, write_junit, write_results

Callbacks = tuple[Callable[[int], None], Callable[[CaseResult], None]]
LINES = 10  # progress lines a run prints when the output is not a terminal


@contextmanager
def progress_bar(console: Console) -> Iterator[Callbacks]:
    """`(on_start(total), on_result(result))` callbacks advancing a bar with the failures so far;
    without a terminal, a line at every tenth of the run instead."""
    if not console.is_terminal:
        yield progress_lines(console)
        return
    with Progress(
        TextColumn("[bold]evals"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[failed]} below 100"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task("evals", total=None, failed=0)
        failed = 0

        def on_start(total: int) -> None:
            progress.update(task, total=total)

        def on_result(result: CaseResult) -> None:
            nonlocal failed
            failed += not result.passed
            progress.update(task, advance=1, failed=failed)

        yield on_start, on_result


def write_outputs(run: EvalRun, out: Path) -> list[Path]:
    """results.json, junit.xml and report.html in `out`."""
    return [
        write_results(run, out / "results.json"),
        write_junit(run, out / "junit.xml"),
        write_html(run, out / "report.html"),
    ]


def progress_lines(console: Console) -> Callbacks:
    """Plain lines (`evals: 40/131 attempts, 2 below 100, 12.3s`), about ten per run."""
    total, done, failed, started = 0, 0, 0, time.perf_counter()

    def on_start(count: int) -> None:
        nonlocal total
        total = count
        console.print(f"evals: {count} attempts to run", highlight=False)

    def on_result(result: CaseResult) -> None:
        nonlocal done, failed
        done += 1
        failed += not result.passed
        step = max(1, total // LINES)
        if done % step == 0 or done == total:
            console.print(
                f"evals: {done}/{total} attempts, {failed} below 100, "
                f"{time.perf_counter() - started:.1f}s",
                highlight=False,
            )

    return on_start, on_result


def print_run(console: Console, result: EvalRun) -> None:
    """The gate's checks as a table, its rule, the judge's standing and what the run spent."""
    cases = len(result.outcomes)
    epochs = f" x {result.epochs} epochs" if result.epochs > 1 else ""
    paired = result.gate.rule == "paired"
    table = Table(
        title=f"Eval scores ({result.model}, {cases} cases{epochs}, {result.duration_s:.1f}s, "
        f"{result.gate.rule} rule)"
    )
    columns = ["check", "baseline", "now", "95% interval", "Δ"]
    columns += ["Δ 95% (paired)", "p (Holm)", "MDE"] if paired else []
    for column in [*columns, "verdict"]:
        table.add_column(column, justify="left" if column in ("check", "verdict") else "right")
    for c in result.gate.checks:
        row = [
            c.name,
            "—" if c.baseline is None else f"{c.baseline:.2f}",
            "—" if c.current is None else f"{c.current:.2f}",
            "" if c.interval is None else f"{c.interval.low:.1f}..{c.interval.high:.1f}",
            "" if c.delta is None else f"{c.delta:+.2f}",
        ]
        if paired:
            ci = c.paired.interval if c.paired else None
            row.append("" if ci is None else f"{ci.low:+.1f}..{ci.high:+.1f}")
            row.append("" if c.adjusted_p is None else f"{c.adjusted_p:.3g}")
            row.append("" if c.mde is None else f"{c.mde:.1f}" + (" !" if c.underpowered else ""))
        row.append("ok" if c.passed else "[red]REGRESSED[/red]")
        table.add_row(*row)
    console.print(table)
    console.print(f"rule: {result.gate.method}", highlight=False, soft_wrap=True)
    if result.gate.judge is not None:
        style = "" if result.gate.judge.passed else "[red]"
        reason = escape(result.gate.judge.reason)
        console.print(f"{style}judge: {reason}", highlight=False, soft_wrap=True)
    spent = result.spend.overall
    cost = f", ${spent.cost:.4f}" if spent.cost is not None else ""
    console.print(
        f"spend: {spent.usage.total_tokens:,} tokens ({spent.usage.prompt_tokens:,} prompt, "
        f"{spent.usage.completion_tokens:,} completion; judge {spent.judge.total_tokens:,}{cost}), "
        f"{spent.tokens_per_attempt:,.0f} per attempt; per slice and case in the report",
        highlight=False,
        soft_wrap=True,
    )
