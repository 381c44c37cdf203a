"""What a run shows and leaves behind: a rich progress bar while cases run (plain progress lines
when the output is not a terminal, as in CI logs), and the three output files."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

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
