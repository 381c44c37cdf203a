"""What a run shows and leaves behind: a rich progress bar while cases run, and the three output files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from agent_testkit.evals import CaseResult, EvalRun, write_html, write_junit, write_results


@contextmanager
def progress_bar(
    console: Console,
) -> Iterator[tuple[Callable[[int], None], Callable[[CaseResult], None]]]:
    """`(on_start(total), on_result(result))` callbacks advancing a bar with the failures so far."""
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
