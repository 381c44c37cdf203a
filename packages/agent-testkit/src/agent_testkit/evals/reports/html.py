"""One self-contained HTML report of a run, readable without the case files: the gate's verdict and
rule, a chart of the scores per slice against the baseline with 95% intervals, the gate's checks
with the smallest drop each slice can detect (and a warning where that is over the threshold), the
per-case diff against the baseline with each case's description and the failing grader's reason,
every case that lost points, the known weaknesses apart, and the judge's model and prompt.
Inline CSS and SVG only: it opens from a CI artifact with no network."""

from __future__ import annotations

from html import escape
from pathlib import Path

from agent_testkit.evals.gate import PAIRED, CaseChange, Check, changed_cases
from agent_testkit.evals.reports.chart import (
    BASELINE_COLOUR,
    ERROR_BAR_COLOUR,
    FAILED_COLOUR,
    NEW_COLOUR,
    PASSED_COLOUR,
    slice_chart,
)
from agent_testkit.evals.reports.deltas import delta_chart
from agent_testkit.evals.reports.results import EvalRun
from agent_testkit.evals.reports.spending import spend_section
from agent_testkit.evals.scoring import CaseOutcome
from agent_testkit.evals.stats import Interval

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
tr.known td {{ background: #f5f5f5; color: #616161; }}
.warning {{ background: #fff8e1; border-left: 4px solid #f9a825; padding: 6px 10px; margin: 4px 0; }}
.desc {{ color: #424242; }} .tag {{ font-size: 11px; color: #fff; background: #757575;
  border-radius: 3px; padding: 1px 5px; margin-left: 4px; }}
pre {{ white-space: pre-wrap; background: #fafafa; padding: 8px; font-size: 12px; }}
.axis, .value, .delta {{ font-size: 11px; fill: #424242; }} .label {{ font-size: 12px; fill: #212121; }}
.legend span {{ display: inline-block; width: 12px; height: 12px; margin: 0 4px 0 14px; vertical-align: -1px; }}
code {{ font-size: 12px; }}
"""


def render_html(run: EvalRun) -> str:
    checks = run.gate.checks
    changes = changed_cases(run.results, run.baseline)
    outcomes = run.outcomes
    known = [o for o in outcomes if o.known_weakness]
    failing = [o for o in outcomes if not o.known_weakness and (o.score < 100 or not o.passed)]
    descriptions = {o.case_id: o.description for o in outcomes}
    body = [
        f"<h1>Eval report: {len(outcomes)} cases, overall {run.scores.overall:.2f}"
        f"{_interval_text(run.scores.overall_interval)}</h1>",
        f'<p class="meta">model <code>{escape(run.model)}</code> · {_epochs_text(run)} · '
        f"started {escape(run.started_at)} · {run.duration_s:.1f}s · "
        f"max drop {run.gate.max_drop:g} points · {_rule_text(run)}</p>",
        f"<p>{_badge(run)} {escape(run.gate.summary())}</p>",
        *[f'<p class="warning">{escape(w)}</p>' for w in run.gate.warnings],
        "<h2>Scores per slice</h2>",
        _legend(),
        f'<div id="chart">{slice_chart(checks)}</div>',
        "<h2>Change per slice against the baseline</h2>",
        '<p class="meta">Each dot is the change in points, its whisker the 95% interval of the '
        f"change (paired per case); the dashed line is the threshold, -{run.gate.max_drop:g} "
        "points.</p>",
        f'<div id="deltas">{delta_chart(checks, max_drop=run.gate.max_drop)}</div>',
        "<h2>Gate checks</h2>",
        _checks_table(checks, paired=run.gate.rule == PAIRED),
        f"<h2>Changed cases against the baseline ({len(changes)})</h2>",
        _changes_table(changes, descriptions),
        f"<h2>Cases below 100 ({len(failing)})</h2>",
        _failing_table(failing, "failing", "Every case scored 100."),
        f"<h2>Known weaknesses ({len(known)})</h2>",
        '<p class="meta">Expected to lose points, kept in the baseline on purpose: not a '
        "regression unless they get worse.</p>",
        _failing_table(known, "known", "No case is marked as a known weakness."),
        spend_section(run.spend, run.prices),
        _judge_section(run),
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
    if run.gate.refused:
        return '<span class="badge failed">REFUSED</span>'
    return '<span class="badge failed">FAILED</span>'


def _epochs_text(run: EvalRun) -> str:
    text = f"{run.epochs} epoch{'s' if run.epochs != 1 else ''} per case"
    if run.variation:
        text += f" (scripted variation {run.variation:g}, seed {run.seed})"
    return text


def _rule_text(run: EvalRun) -> str:
    return f'<span id="rule">{escape(run.gate.method)}</span>'


def _interval_text(interval: Interval | None) -> str:
    if interval is None or interval.width() <= 0:
        return ""
    return f" [{interval.low:.1f}, {interval.high:.1f}]"


def _legend() -> str:
    entries = [
        (BASELINE_COLOUR, "baseline"),
        (PASSED_COLOUR, "this run"),
        (FAILED_COLOUR, "regressed"),
        (NEW_COLOUR, "new slice"),
        (ERROR_BAR_COLOUR, "95% interval"),
    ]
    spans = "".join(f'<span style="background:{c}"></span>{escape(t)}' for c, t in entries)
    return f'<p class="legend">{spans}</p>'


def _score(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"


def _delta(value: float | None) -> str:
    return "" if value is None else f"{value:+.2f}"


def _checks_table(checks: list[Check], *, paired: bool) -> str:
    rows = []
    for c in checks:
        change = (
            f"{_delta(c.delta)}{_interval_text(c.paired.interval)}" if c.paired else _delta(c.delta)
        )
        mde = "" if c.mde is None else f"{c.mde:.1f}{' ⚠' if c.underpowered else ''}"
        p_value = "" if c.adjusted_p is None else f"{c.p_value:.3g} / {c.adjusted_p:.3g}"
        verdict = "ok" if c.passed else "REGRESSED"
        rows.append(
            f'<tr class="{"" if c.passed else "down"}"><td>{escape(c.name)}</td>'
            f'<td class="num">{c.cases}</td>'
            f'<td class="num">{_score(c.baseline)}</td><td class="num">{_score(c.current)}</td>'
            f'<td class="num">{_interval_text(c.interval).strip()}</td>'
            f'<td class="num">{change}</td>'
            + (f'<td class="num">{p_value}</td><td class="num">{mde}</td>' if paired else "")
            + f"<td>{verdict}</td><td>{escape(c.reason)}</td></tr>"
        )
    head = (
        '<table id="gate"><tr><th>check</th><th>cases</th><th>baseline</th><th>now</th>'
        "<th>95% interval</th><th>Δ"
        + (" (paired, 95%)" if paired else "")
        + "</th>"
        + ("<th>p / Holm-adjusted p</th><th>smallest detectable drop</th>" if paired else "")
        + "<th>verdict</th><th>why</th></tr>"
    )
    return head + "".join(rows) + "</table>"


def _case_cell(case_id: str, description: str, known: str = "") -> str:
    tag = '<span class="tag">known weakness</span>' if known else ""
    text = f'<br><span class="desc">{escape(description)}</span>' if description else ""
    return f"<td><code>{escape(case_id)}</code>{tag}{text}</td>"


def _epoch_scores(scores: tuple[float, ...] | list[float]) -> str:
    if len(scores) < 2:
        return ""
    return '<br><span class="meta">' + " ".join(f"{s:.0f}" for s in scores) + "</span>"


def _changes_table(changes: list[CaseChange], descriptions: dict[str, str]) -> str:
    head = (
        '<table id="changed"><tr><th>case</th><th>slices</th><th>baseline</th><th>now</th>'
        "<th>Δ</th><th>failing grader: reason</th></tr>"
    )
    if not changes:
        return head + '<tr><td colspan="6">No case changed against the baseline.</td></tr></table>'
    rows = []
    for change in changes:
        direction = "down" if (change.delta or 0) < 0 or change.current is None else "up"
        if change.known_weakness and direction == "down":
            direction = "down known"
        description = change.description or descriptions.get(change.case_id, "")
        rows.append(
            f'<tr class="{direction}">{_case_cell(change.case_id, description, change.known_weakness)}'
            f"<td>{escape(', '.join(change.tags))}</td>"
            f'<td class="num">{_score(change.baseline)}</td>'
            f'<td class="num">{_score(change.current)}{_epoch_scores(change.epochs)}</td>'
            f'<td class="num">{_delta(change.delta)}</td><td>{escape(change.reason)}</td></tr>'
        )
    return head + "".join(rows) + "</table>"


def _failing_table(outcomes: list[CaseOutcome], table_id: str, empty: str) -> str:
    head = (
        f'<table id="{table_id}"><tr><th>case</th><th>slices</th><th>score</th>'
        "<th>graders (worst epoch)</th></tr>"
    )
    if not outcomes:
        return head + f'<tr><td colspan="4">{escape(empty)}</td></tr></table>'
    rows = []
    for outcome in outcomes:
        worst = outcome.worst
        lines = (
            [f"known weakness: {escape(outcome.known_weakness)}"] if outcome.known_weakness else []
        )
        lines += [f"problem: {escape(p)}" for p in worst.problems]
        lines += [
            f"{'✔' if g.passed else '✘'} {escape(g.name)}: {escape(g.reason)}"
            for g in worst.graders
        ]
        row_class = ' class="known"' if outcome.known_weakness else ""
        rows.append(
            f"<tr{row_class}>{_case_cell(outcome.case_id, outcome.description)}"
            f"<td>{escape(', '.join(outcome.tags))}</td>"
            f'<td class="num">{outcome.score:.2f}{_epoch_scores(outcome.epoch_scores)}</td>'
            f"<td>{'<br>'.join(lines)}</td></tr>"
        )
    return head + "".join(rows) + "</table>"


def _judge_section(run: EvalRun) -> str:
    if not run.judge:
        return ""
    return (
        '<h2>The judge</h2><p>llm_judge graders ask <code id="judge-model">'
        f"{escape(run.judge.get('model', ''))}</code> with this system prompt (the rubric and the "
        "conversation follow as the user message). Its agreement with people's verdicts: "
        "<code>agent-service eval judge-agreement</code>.</p>"
        f"{_judge_trust(run)}"
        f"<details><summary>system prompt</summary><pre>{escape(run.judge.get('system_prompt', ''))}"
        "</pre></details>"
    )


def _judge_trust(run: EvalRun) -> str:
    """The judge's calibration (kappa with its interval) and whether it may gate."""
    check = run.gate.judge
    if check is None:
        return ""
    css = "" if check.passed else ' class="warning"'
    verdict = "may gate" if check.passed else "may NOT gate"
    return (
        f'<p id="judge-kappa"{css}>Judge {verdict} (needs the lower bound of Cohen\'s kappa at '
        f"{check.min_kappa:g} or more): {escape(check.reason)}</p>"
    )
