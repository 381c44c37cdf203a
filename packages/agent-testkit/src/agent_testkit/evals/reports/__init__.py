"""What a run writes: results JSON, JUnit XML and a self-contained HTML report."""

from agent_testkit.evals.reports.html import render_html, write_html
from agent_testkit.evals.reports.junit import junit_xml, write_junit
from agent_testkit.evals.reports.results import EvalRun, load_results, write_results

__all__ = [
    "EvalRun",
    "junit_xml",
    "load_results",
    "render_html",
    "write_html",
    "write_junit",
    "write_results",
]
