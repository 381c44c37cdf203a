"""JUnit XML, for CI systems that show test reports: one test case per eval case, one per gate check.

A case that lost points it had in the baseline (or a new case that fails) is a failure; a case that
fails as it did in the baseline is reported as skipped ("known failure"), so the report shows what
this change broke, as the gate does.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from agent_testkit.evals.reports.results import EvalRun
from agent_testkit.evals.scoring import CaseResult


def junit_xml(run: EvalRun) -> str:
    root = ET.Element("testsuites", name="evals")
    cases = ET.SubElement(root, "testsuite", name="golden")
    failures = skipped = 0
    before = run.baseline.cases if run.baseline else {}
    for result in run.results:
        element = ET.SubElement(
            cases,
            "testcase",
            classname=f"evals.{result.tags[0] if result.tags else 'case'}",
            name=result.case_id,
            time=f"{result.duration_s:.3f}",
        )
        if result.passed:
            continue
        known = result.case_id in before and result.score >= before[result.case_id]
        if known:
            skipped += 1
            ET.SubElement(element, "skipped", message=f"known failure: {result.reason}"[:500])
        else:
            failures += 1
            failure = ET.SubElement(
                element, "failure", message=f"score {result.score:.2f}: {result.reason}"[:500]
            )
            failure.text = _details(result)
        ET.SubElement(
            element, "system-out"
        ).text = f"score {result.score:.2f} tags {','.join(result.tags)}"
    cases.set("tests", str(len(run.results)))
    cases.set("failures", str(failures))
    cases.set("skipped", str(skipped))
    cases.set("time", f"{run.duration_s:.3f}")
    gate = ET.SubElement(root, "testsuite", name="gate", tests=str(len(run.gate.checks)))
    for check in run.gate.checks:
        element = ET.SubElement(gate, "testcase", classname="evals.gate", name=check.name)
        if not check.passed:
            ET.SubElement(element, "failure", message=check.reason)
    gate.set("failures", str(len(run.gate.failures)))
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"


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
