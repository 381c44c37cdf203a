"""JUnit XML, for CI systems that show test reports: one test case per eval case, one per gate check.

A case that lost points it had in the baseline (or a new case that fails) is a failure; a case that
fails as it did in the baseline, or is marked as a known weakness, is reported as skipped, so the
report shows what this change broke, as the gate does. The scores, their 95% intervals, the paired
differences and the smallest detectable drops are `<properties>` of the suites and checks, for CI
systems that chart them.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from agent_testkit.evals.gate import Check
from agent_testkit.evals.reports.results import EvalRun
from agent_testkit.evals.scoring import CaseResult


def junit_xml(run: EvalRun) -> str:
    root = ET.Element("testsuites", name="evals")
    cases = ET.SubElement(root, "testsuite", name="golden")
    _properties(cases, _run_properties(run))
    failures = skipped = 0
    before = run.baseline.cases if run.baseline else {}
    for outcome in run.outcomes:
        result = outcome.worst
        element = ET.SubElement(
            cases,
            "testcase",
            classname=f"evals.{result.tags[0] if result.tags else 'case'}",
            name=result.case_id,
            time=f"{sum(a.duration_s for a in outcome.attempts):.3f}",
        )
        if outcome.passed:
            continue
        if outcome.known_weakness:
            skipped += 1
            ET.SubElement(
                element, "skipped", message=f"known weakness: {outcome.known_weakness}"[:500]
            )
        elif outcome.case_id in before and outcome.score >= before[outcome.case_id]:
            skipped += 1
            ET.SubElement(element, "skipped", message=f"known failure: {outcome.reason}"[:500])
        else:
            failures += 1
            failure = ET.SubElement(
                element, "failure", message=f"score {outcome.score:.2f}: {outcome.reason}"[:500]
            )
            failure.text = _details(result)
        epochs = " ".join(f"{s:.2f}" for s in outcome.epoch_scores)
        ET.SubElement(
            element, "system-out"
        ).text = f"score {outcome.score:.2f} epochs {epochs} tags {','.join(outcome.tags)}"
    cases.set("tests", str(len(run.outcomes)))
    cases.set("failures", str(failures))
    cases.set("skipped", str(skipped))
    cases.set("time", f"{run.duration_s:.3f}")
    gate = ET.SubElement(root, "testsuite", name="gate", tests=str(len(run.gate.checks)))
    for check in run.gate.checks:
        element = ET.SubElement(gate, "testcase", classname="evals.gate", name=check.name)
        _properties(element, _check_properties(check))
        if not check.passed:
            ET.SubElement(element, "failure", message=check.reason)
    gate.set("failures", str(len(run.gate.failures)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


def _properties(parent: ET.Element, values: dict[str, str]) -> None:
    properties = ET.SubElement(parent, "properties")
    for name, value in values.items():
        ET.SubElement(properties, "property", name=name, value=value)


def _run_properties(run: EvalRun) -> dict[str, str]:
    values = {
        "model": run.model,
        "epochs": str(run.epochs),
        "rule": run.gate.rule,
        "max_drop": f"{run.gate.max_drop:g}",
    }
    for check in run.gate.checks:
        values |= _check_properties(check, prefix=check.name.replace(" ", ".") + ".")
    return values


def _check_properties(check: Check, prefix: str = "") -> dict[str, str]:
    values: dict[str, str] = {}
    if check.current is not None:
        values[f"{prefix}score"] = f"{check.current:.2f}"
    if check.baseline is not None:
        values[f"{prefix}baseline"] = f"{check.baseline:.2f}"
    if check.interval is not None:
        values[f"{prefix}ci95_low"] = f"{check.interval.low:.2f}"
        values[f"{prefix}ci95_high"] = f"{check.interval.high:.2f}"
    if check.paired is not None:
        values[f"{prefix}paired_delta"] = f"{check.paired.mean:.2f}"
        values[f"{prefix}paired_ci95_low"] = f"{check.paired.interval.low:.2f}"
        values[f"{prefix}paired_ci95_high"] = f"{check.paired.interval.high:.2f}"
    if check.mde is not None:
        values[f"{prefix}mde"] = f"{check.mde:.2f}"
    return values


def _details(result: CaseResult) -> str:
    lines = [f"problem: {p}" for p in result.problems]
    lines += [
        f"{'PASS' if g.passed else 'FAIL'} {g.score:.2f} x{g.weight:g} {g.name}: {g.reason}"
        for g in result.graders
    ]
    return "\n".join(lines)


def write_junit(run: EvalRun, path: str | Path) -> Path:
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(junit_xml(run), encoding="utf-8")
    return target
