"""The HTML report as a person sees it: rendered by headless Chromium (Debian's `chromium`), and the
screenshot read back pixel by pixel (Pillow): the chart's bars in their colours (baseline, this run, the
regressed slice), the 95% error bars of a noisy run at the height of their intervals, and the tables
below them. Skipped where Chromium is not installed."""

import os
import subprocess
from pathlib import Path

import pytest
from PIL import Image

from agent_testkit.evals import Baseline, CaseResult, EvalRun, GraderResult, write_html
from agent_testkit.evals.reports.chart import (
    BASELINE_COLOUR,
    ERROR_BAR_COLOUR,
    FAILED_COLOUR,
    PASSED_COLOUR,
    PLOT_HEIGHT,
)
from agent_testkit.evals.reports.html import TABLE_HEAD_COLOUR

CHROMIUM = Path(
    os.environ.get("CHROMIUM", "/usr/bin/chromium")
)  # or another Chromium-based browser
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason=f"needs headless Chromium at {CHROMIUM} (Debian: apt-get install chromium; or set CHROMIUM)",
)
WIDTH, HEIGHT = 1100, 1000


Pixels = list[list[tuple[int, int, int]]]


def rgb(colour: str) -> tuple[int, int, int]:
    return int(colour[1:3], 16), int(colour[3:5], 16), int(colour[5:7], 16)


def mask(pixels: Pixels, colour: str, tolerance: int = 6) -> list[list[bool]]:
    r, g, b = rgb(colour)
    return [
        [
            abs(p[0] - r) <= tolerance and abs(p[1] - g) <= tolerance and abs(p[2] - b) <= tolerance
            for p in row
        ]
        for row in pixels
    ]


def tallest_column(hits: list[list[bool]]) -> tuple[int, int]:
    """The longest vertical run of matching pixels, and the row where it ends."""
    best, end = 0, 0
    for x in range(len(hits[0])):
        run = 0
        for y, row in enumerate(hits):
            run = run + 1 if row[x] else 0
            if run > best:
                best, end = run, y
    return best, end


def widest_row(hits: list[list[bool]]) -> tuple[int, int]:
    """The longest horizontal run of matching pixels, and its row."""
    best, where = 0, 0
    for y, row in enumerate(hits):
        run = 0
        for hit in row:
            run = run + 1 if hit else 0
            if run > best:
                best, where = run, y
    return best, where


def regressed_run() -> EvalRun:
    def case(case_id: str, score: float, tag: str) -> CaseResult:
        graders = [
            GraderResult("contains", "contains 'x'", 1, score / 100, score == 100, "lacks 'x'")
        ]
        return CaseResult(case_id, (tag,), "assistant", score, graders=graders)

    results = [
        case("tasks-1", 100, "tasks"),
        case("safety-1", 50, "safety"),
        case("docs-1", 100, "documents"),
    ]
    baseline = Baseline(
        84.0,  # this run: 83.33, within the allowed drop; only the safety slice regressed
        {"tasks": 100.0, "safety": 100.0, "documents": 100.0},
        {"tasks-1": 100, "safety-1": 100, "docs-1": 100},
    )
    return EvalRun.of(results, baseline, max_drop=2.0, model="scripted", started_at="2026-01-01")


def noisy_run() -> EvalRun:
    """A live run of 12 cases x 3 epochs, half of them flaky: wide intervals."""
    results = [
        CaseResult(f"case-{n:02}", ("flaky",) if n < 6 else ("stable",), "a", score, epoch=e)
        for n in range(12)
        for e, score in enumerate([100.0, 0.0, 100.0 if n % 2 else 0.0] if n < 6 else [100.0] * 3)
    ]
    baseline = Baseline.from_scores(EvalRun.of(results, None, max_drop=2, model="live").scores)
    return EvalRun.of(results, baseline, max_drop=2.0, model="live", epochs=3)


def render(run: EvalRun, folder: Path) -> Pixels:
    report = write_html(run, folder / "report.html")
    shot = folder / "report.png"
    subprocess.run(  # noqa: S603 - the browser binary, fixed arguments
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            f"--user-data-dir={folder / 'profile'}",
            f"--window-size={WIDTH},{HEIGHT}",
            f"--screenshot={shot}",
            report.as_uri(),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    with Image.open(shot) as image:
        assert image.size == (WIDTH, HEIGHT)
        pixels = list(image.convert("RGB").get_flattened_data())
    return [pixels[y * WIDTH : (y + 1) * WIDTH] for y in range(HEIGHT)]


@pytest.fixture(scope="module")
def screenshot(tmp_path_factory: pytest.TempPathFactory) -> Pixels:
    return render(regressed_run(), tmp_path_factory.mktemp("report"))


@pytest.fixture(scope="module")
def noisy_screenshot(tmp_path_factory: pytest.TempPathFactory) -> Pixels:
    return render(noisy_run(), tmp_path_factory.mktemp("noisy"))


def test_the_error_bars_of_a_noisy_run_are_visible_at_the_height_of_their_intervals(
    noisy_screenshot,
):
    run = noisy_run()
    overall = run.gate.checks[0].interval
    assert overall is not None and overall.width() > 10
    widest = max(c.interval.width() for c in run.gate.checks if c.interval is not None)
    bar, bar_bottom = tallest_column(mask(noisy_screenshot, ERROR_BAR_COLOUR, tolerance=20))
    # the longest whisker is the widest interval, drawn on the 0..100 scale of the plot
    assert abs(bar - widest / 100 * PLOT_HEIGHT) <= 4, (bar, widest)
    _, bars_bottom = tallest_column(mask(noisy_screenshot, PASSED_COLOUR))
    assert bar_bottom < bars_bottom  # drawn over the bars, inside the plot
    caps, _ = widest_row(mask(noisy_screenshot, ERROR_BAR_COLOUR, tolerance=20))
    assert 10 <= caps <= 18  # a cap across the whisker's ends


def test_the_chart_shows_baseline_and_current_bars_and_the_regression_in_red(screenshot):
    baseline_bar, baseline_bottom = tallest_column(mask(screenshot, BASELINE_COLOUR))
    passed_bar, passed_bottom = tallest_column(mask(screenshot, PASSED_COLOUR))
    failed_bar, failed_bottom = tallest_column(mask(screenshot, FAILED_COLOUR))
    # The plot is 220 px tall: a 100-point bar is about that, the 50-point safety bar about half,
    # and all bars stand on the same axis.
    assert 200 <= baseline_bar <= 225
    assert 200 <= passed_bar <= 225
    assert 100 <= failed_bar <= 115
    assert abs(baseline_bottom - passed_bottom) <= 2 and abs(failed_bottom - passed_bottom) <= 2


def test_the_tables_are_under_the_chart(screenshot):
    _, chart_bottom = tallest_column(mask(screenshot, BASELINE_COLOUR))
    header_width, header_row = widest_row(mask(screenshot, TABLE_HEAD_COLOUR))
    assert header_width > WIDTH * 0.8  # a header row across the page
    assert header_row > chart_bottom
    regressed_row, regressed_at = widest_row(mask(screenshot, "#ffebee", tolerance=3))
    assert regressed_row > WIDTH * 0.5 and regressed_at > chart_bottom  # the changed case's row
