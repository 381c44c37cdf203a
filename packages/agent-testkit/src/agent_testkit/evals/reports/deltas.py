"""The per-slice change against the baseline as inline SVG (a forest plot): one row per check, its
change in points as a dot with its 95% interval of the change as a whisker, a line at 0 and a
dashed line at `-max_drop`, the gate's threshold. A check fails only when its drop is past that
line *and* significant under the family's correction, so a whisker crossing 0 reads at a glance
as "within the noise". No script, no external file."""

from __future__ import annotations

from html import escape

from agent_testkit.evals.gate import Check
from agent_testkit.evals.reports.chart import FAILED_COLOUR, PASSED_COLOUR

ROW, LABEL_WIDTH, PLOT_WIDTH, TOP, BOTTOM = 24, 150, 460, 16, 34
THRESHOLD_COLOUR, ZERO_COLOUR = "#f9a825", "#424242"


def delta_chart(checks: list[Check], *, max_drop: float) -> str:
    """An SVG element with a row per check that has a change (checks without one are left out)."""
    rows = [c for c in checks if c.delta is not None]
    if not rows:
        return '<p class="meta">No change to plot: no baseline, or nothing in common with it.</p>'
    span = _span(rows, max_drop)
    width, height = LABEL_WIDTH + PLOT_WIDTH + 20, TOP + ROW * len(rows) + BOTTOM
    x0 = _x(0.0, span)
    threshold = _x(-max_drop, span)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="Change per slice against the baseline, '
        'with 95% intervals of the change">',
        f'<line x1="{x0}" y1="{TOP - 6}" x2="{x0}" y2="{height - BOTTOM + 6}" '
        f'stroke="{ZERO_COLOUR}"/>',
        f'<line x1="{threshold}" y1="{TOP - 6}" x2="{threshold}" y2="{height - BOTTOM + 6}" '
        f'stroke="{THRESHOLD_COLOUR}" stroke-dasharray="4 3"><title>the gate threshold: '
        f"-{max_drop:g} points</title></line>",
    ]
    for index, check in enumerate(rows):
        parts.append(_row(check, TOP + ROW * index + ROW / 2, span))
    for tick in _ticks(span):
        x = _x(tick, span)
        parts.append(
            f'<text x="{x}" y="{height - BOTTOM + 22}" text-anchor="middle" class="axis">'
            f"{tick:+g}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _span(rows: list[Check], max_drop: float) -> float:
    """Half the x axis, in points: wide enough for every interval and the threshold."""
    reach = max_drop + 1
    for check in rows:
        reach = max(reach, abs(check.delta or 0.0))
        if check.paired is not None:
            reach = max(reach, abs(check.paired.interval.low), abs(check.paired.interval.high))
    return min(100.0, reach * 1.1)


def _x(value: float, span: float) -> float:
    return round(LABEL_WIDTH + PLOT_WIDTH * (value + span) / (2 * span), 1)


def _ticks(span: float) -> list[float]:
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50) if span / s <= 4)
    count = int(span // step)
    return [float(step * k) for k in range(-count, count + 1)]


def _row(check: Check, y: float, span: float) -> str:
    colour = PASSED_COLOUR if check.passed else FAILED_COLOUR
    delta = check.delta or 0.0
    title = f"{check.name}: {delta:+.2f} points"
    whisker = ""
    if check.paired is not None:
        ci = check.paired.interval
        title += f", 95% interval of the change [{ci.low:+.2f}, {ci.high:+.2f}]"
        if check.adjusted_p is not None:
            title += f", Holm-adjusted p {check.adjusted_p:.3g}"
        whisker = (
            f'<line x1="{_x(ci.low, span)}" y1="{y}" x2="{_x(ci.high, span)}" y2="{y}" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
    return (
        f'<g class="delta-row"><title>{escape(title)}</title>'
        f'<text x="{LABEL_WIDTH - 8}" y="{y + 4}" text-anchor="end" class="label">'
        f"{escape(check.name.removeprefix('slice '))}</text>{whisker}"
        f'<circle cx="{_x(delta, span)}" cy="{y}" r="4" fill="{colour}"/></g>'
    )
