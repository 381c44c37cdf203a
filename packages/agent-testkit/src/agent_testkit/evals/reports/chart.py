"""The per-slice bar chart of the HTML report, as inline SVG: for the overall score and each slice, the
baseline's bar beside this run's, coloured by the gate's verdict, with this run's 95% interval drawn
as an error bar over its bar. No script, no external file."""

from __future__ import annotations

from html import escape

from agent_testkit.evals.gate import Check

BASELINE_COLOUR = "#90a4ae"
PASSED_COLOUR = "#2e7d32"
FAILED_COLOUR = "#c62828"
NEW_COLOUR = "#1565c0"
ERROR_BAR_COLOUR = "#6a1b9a"
PLOT_HEIGHT = 220
TOP, LEFT, BOTTOM = 30, 48, 56
BAR_WIDTH, GROUP_WIDTH = 26, 92
CAP_WIDTH = 14


def bar_colour(check: Check) -> str:
    if not check.passed:
        return FAILED_COLOUR
    return NEW_COLOUR if check.baseline is None else PASSED_COLOUR


def slice_chart(checks: list[Check]) -> str:
    """An SVG element: one group of two bars per check (baseline, this run), 0..100 points, this
    run's bar with its 95% interval."""
    width = LEFT + GROUP_WIDTH * max(1, len(checks)) + 20
    height = TOP + PLOT_HEIGHT + BOTTOM
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="Scores per slice against the baseline, '
        'with 95% intervals">'
    ]
    for value in (0, 25, 50, 75, 100):
        y = _y(value)
        parts.append(
            f'<line x1="{LEFT}" y1="{y}" x2="{width - 10}" y2="{y}" stroke="#e0e0e0"/>'
            f'<text x="{LEFT - 6}" y="{y + 4}" text-anchor="end" class="axis">{value}</text>'
        )
    for index, check in enumerate(checks):
        x = LEFT + index * GROUP_WIDTH + 14
        now_x = x + BAR_WIDTH + 4
        parts.append(_bar(x, check.baseline, BASELINE_COLOUR, f"{check.name} baseline"))
        top = check.interval.high if check.interval is not None else None
        parts.append(_bar(now_x, check.current, bar_colour(check), f"{check.name} now", top))
        parts.append(_error_bar(now_x + BAR_WIDTH / 2, check))
        label = check.name.removeprefix("slice ")
        parts.append(
            f'<text x="{x + BAR_WIDTH + 2}" y="{TOP + PLOT_HEIGHT + 18}" text-anchor="middle" '
            f'class="label">{escape(label)}</text>'
        )
        if check.delta is not None and check.delta != 0:
            parts.append(
                f'<text x="{x + BAR_WIDTH + 2}" y="{TOP + PLOT_HEIGHT + 34}" text-anchor="middle" '
                f'class="delta">{check.delta:+.2f}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _y(value: float) -> float:
    return round(TOP + PLOT_HEIGHT * (1 - value / 100), 1)


def _bar(
    x: float, value: float | None, colour: str, title: str, label_over: float | None = None
) -> str:
    """A bar from 0 to `value`, its value written above it (above `label_over` when higher)."""
    if value is None:
        return ""
    y = _y(value)
    label_y = min(y, _y(label_over)) if label_over is not None else y
    height = round(TOP + PLOT_HEIGHT - y, 1)
    return (
        f'<rect x="{x}" y="{y}" width="{BAR_WIDTH}" height="{height}" fill="{colour}">'
        f"<title>{escape(title)}: {value:.2f}</title></rect>"
        f'<text x="{x + BAR_WIDTH / 2}" y="{label_y - 4}" '
        f'text-anchor="middle" class="value">{value:.0f}</text>'
    )


def _error_bar(centre: float, check: Check) -> str:
    """This run's 95% interval: a vertical whisker with caps (nothing when it has no width)."""
    interval = check.interval
    if interval is None or check.current is None or interval.width() <= 0:
        return ""
    top, bottom = _y(interval.high), _y(interval.low)
    left, right = centre - CAP_WIDTH / 2, centre + CAP_WIDTH / 2
    title = f"{check.name}: 95% interval {interval.low:.2f} .. {interval.high:.2f}"
    return (
        f'<g class="errorbar" stroke="{ERROR_BAR_COLOUR}" stroke-width="2">'
        f"<title>{escape(title)}</title>"
        f'<line x1="{centre}" y1="{top}" x2="{centre}" y2="{bottom}"/>'
        f'<line x1="{left}" y1="{top}" x2="{right}" y2="{top}"/>'
        f'<line x1="{left}" y1="{bottom}" x2="{right}" y2="{bottom}"/></g>'
    )
