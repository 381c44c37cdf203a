"""One self-contained HTML report of a run: the gate's verdict, a chart of the scores per slice
against the baseline, the table of changed cases with the failing grader's reason, and every case
that lost points. Inline CSS and SVG only: it opens from a CI artifact with no network."""

from __future__ import annotations

from html import escape
from pathlib import Path

from agent_testkit.evals.gate import CaseChange, Check, changed_cases
from agent_testkit.evals.reports.chart import (
    BASELINE_COLOUR,
    FAILED_COLOUR,
    NEW_COLOUR,
    PASSED_COLOUR,
    slice_chart,
)
from agent_testkit.evals.reports.results import EvalRun
from agent_testkit.evals.scoring import CaseResult

TABLE_HEAD_COLOUR = "#263238"
STYLE = f"""
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px 32px; color: #212121; background: #fff; }}
h1 {{ font-size: 22px; margin: 0 0 4px; }} h2 {{ font-size: 17px; margin: 28px 0 8px; }}
.meta {{ color: #616161; }}
.badge {{ display: inline-block; padding: 4px 12px; border-radius: 4px; color: #fff; font-weight: 600; }}
.passed {{ background: {PASSED_COLOUR}; }} .failed {{ background: {FAILED_COLOUR}; }}
.none {{ background: #757575; }}
table {{ border-collapse: collapse; width: 100%; margin-top: 6px; }}
th {{ background: {TABLE_HEAD_COLOUR}; color: #fff; text-align: left; padding: 6px 8px; }}
td {{ border-bottom: 1px solid #e0e0e0; padding: 5px 8px; vertical-align: top; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }}
tr.down td {{ background: #ffebee; }} tr.up td {{ background: #e8f5e9; }}
.axis, .value, .delta {{ font-size: 11px; fill: #424242; }} .label {{ font-size: 12px; fill: #212121; }}
.legend span {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 14px; vertical-align: -1px; }}
code {{ font-size: 12px; }}
"""


def render_html(run: EvalRun) -> str:
    checks = run.gate.checks
    changes = changed_cases(run.results, run.baseline)
    failing = [r for r in run.results if r.score < 100 or not r.passed]
    body = [
        f"<h1>Eval report: {len(run.results)} cases, overall {run.scores.overall:.2f}</h1>",
        f'<p class="meta">model <code>{escape(run.model)}</code> · started {escape(run.started_at)} · '
        f"{run.duration_s:.1f}s · max drop {run.gate.max_drop:g} points</p>",
        f"<p>{_badge(run)} {escape(run.gate.summary())}</p>",
        "<h2>Scores per slice</h2>",
        _legend(),
        f'<div id="chart">{slice_chart(checks)}</div>',
        "<h2>Gate checks</h2>",
        _checks_table(checks),
        f"<h2>Changed cases ({len(changes)})</h2>",
        _changes_table(changes),
        f"<h2>Cases below 100 ({len(failing)})</h2>",
        _failing_table(failing),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>Eval report: {run.scores.overall:.2f}</title><style>{STYLE}</style></head>"
        f"<body>{''.join(body)}</body></html>\n"
    )


def write_html(run: EvalRun, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_html(run), encoding="utf-8")
    return target


def _badge(run: EvalRun) -> str:
    if not run.gate.has_baseline:
        return '<span class="badge none">NO BASELINE</span>'
    if run.gate.passed:
        return '<span class="badge passed">PASSED</span>'
    return '<span class="badge failed">FAILED</span>'


def _legend() -> str:
    entries = [
        (BASELINE_COLOUR, "baseline"),
        (PASSED_COLOUR, "this run"),
        (FAILED_COLOUR, "regressed"),
        (NEW_COLOUR, "new slice"),
    ]
    spans = "".join(f'<span style="background:{c}"></span>{escape(t)}' for c, t in entries)
    return f'<p class="legend">{spans}</p>'


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _delta(value: float | None) -> str:
    return "" if value is None else f"{value:+.2f}"


def _checks_table(checks: list[Check]) -> str:
    rows = "".join(
        f'<tr class="{"" if c.passed else "down"}"><td>{escape(c.name)}</td>'
        f'<td class="num">{_score(c.baseline)}</td><td class="num">{_score(c.current)}</td>'
        f'<td class="num">{_delta(c.delta)}</td><td>{"ok" if c.passed else "REGRESSED"}</td></tr>'
        for c in checks
    )
    return (
        '<table id="gate"><tr><th>check</th><th>baseline</th><th>now</th><th>Δ</th><th>verdict</th></tr>'
        f"{rows}</table>"
    )


def _changes_table(changes: list[CaseChange]) -> str:
    head = (
        '<table id="changed"><tr><th>case</th><th>slices</th><th>baseline</th><th>now</th>'
        "<th>Δ</th><th>failing grader: reason</th></tr>"
    )
    if not changes:
        return head + '<tr><td colspan="6">No case changed against the baseline.</td></tr></table>'
    rows = []
    for change in changes:
        direction = "down" if (change.delta or 0) < 0 or change.current is None else "up"
        rows.append(
            f'<tr class="{direction}"><td><code>{escape(change.case_id)}</code></td>'
            f"<td>{escape(', '.join(change.tags))}</td>"
            f'<td class="num">{_score(change.baseline)}</td><td class="num">{_score(change.current)}</td>'
            f'<td class="num">{_delta(change.delta)}</td><td>{escape(change.reason)}</td></tr>'
        )
    return head + "".join(rows) + "</table>"


def _failing_table(failing: list[CaseResult]) -> str:
    head = '<table id="failing"><tr><th>case</th><th>slices</th><th>score</th><th>graders</th></tr>'
    if not failing:
        return head + '<tr><td colspan="4">Every case scored 100.</td></tr></table>'
    rows = []
    for result in failing:
        lines = [f"problem: {escape(p)}" for p in result.problems]
        lines += [
            f"{'✔' if g.passed else '✘'} {escape(g.name)}: {escape(g.reason)}"
            for g in result.graders
        ]
        rows.append(
            f"<tr><td><code>{escape(result.case_id)}</code></td><td>{escape(', '.join(result.tags))}</td>"
            f'<td class="num">{result.score:.2f}</td><td>{"<br>".join(lines)}</td></tr>'
        )
    return head + "".join(rows) + "</table>"
