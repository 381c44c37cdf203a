"""The report's section on what the run cost: tokens and (with prices) USD per slice and per case."""

from __future__ import annotations

from html import escape

from agent_testkit.evals.spend import Prices, RunSpend, Spend


def _cost(value: float | None) -> str:
    return "" if value is None else f"${value:.4f}"


def _row(spend: Spend, *, priced: bool) -> str:
    cells = [
        f"<td>{escape(spend.name)}</td>",
        f'<td class="num">{spend.attempts}</td>',
        f'<td class="num">{spend.usage.prompt_tokens:,}</td>',
        f'<td class="num">{spend.usage.completion_tokens:,}</td>',
        f'<td class="num">{spend.tokens_per_attempt:,.0f}</td>',
        f'<td class="num">{spend.judge.total_tokens:,}</td>',
    ]
    if priced:
        cells += [
            f'<td class="num">{_cost(spend.cost)}</td>',
            f'<td class="num">{_cost(spend.cost_per_attempt)}</td>',
        ]
    return f"<tr>{''.join(cells)}</tr>"


def _table(rows: list[Spend], table_id: str, first: str, *, priced: bool) -> str:
    heads = [first, "attempts", "prompt tokens", "completion tokens", "tokens / attempt"]
    heads += ["judge tokens"]
    heads += ["cost", "cost / attempt"] if priced else []
    head = "".join(f"<th>{h}</th>" for h in heads)
    body = "".join(_row(row, priced=priced) for row in rows)
    return f'<table id="{table_id}"><tr>{head}</tr>{body}</table>'


def spend_section(spend: RunSpend, prices: Prices) -> str:
    """Per slice (and overall) in a table; per case in a collapsed one."""
    priced = prices.known
    note = (
        f"at ${prices.prompt:g} per million prompt tokens and ${prices.completion:g} per million "
        "completion tokens"
        if priced
        else "no prices given (<code>--input-price</code>, <code>--output-price</code>: USD per "
        "million tokens), so no costs"
    )
    return (
        f"<h2>Tokens and cost ({spend.overall.usage.total_tokens:,} tokens"
        f"{', ' + _cost(spend.overall.cost) if priced else ''})</h2>"
        f"<p class=\"meta\">The agent's tokens as the service reported them, and the judge's "
        f"as its API did, {note}.</p>"
        + _table([*spend.slices, spend.overall], "spend-slices", "slice", priced=priced)
        + f"<details><summary>per case ({len(spend.cases)})</summary>"
        + _table(spend.cases, "spend-cases", "case", priced=priced)
        + "</details>"
    )
