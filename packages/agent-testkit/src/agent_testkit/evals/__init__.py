"""Evals with a real gate: golden cases in YAML, graders, per-slice scores, a regression gate against a
committed baseline, and JSON / JUnit / HTML reports. Generic: the app under test supplies how a case
runs (`run_cases(cases, run_case)`); everything here reads only transcripts and the app's HTTP API."""

from agent_testkit.evals.cases import Case, CaseFormatError, Expectation, load_case_file, load_cases
from agent_testkit.evals.gate import (
    DEFAULT_MAX_DROP,
    Baseline,
    BaselineError,
    CaseChange,
    Check,
    GateReport,
    changed_cases,
    compare,
)
from agent_testkit.evals.graders import (
    JUDGE_OUTPUT_SCHEMA,
    JUDGE_SYSTEM_PROMPT,
    GradeContext,
    Grader,
    GraderResult,
    GraderSpecError,
    JudgeError,
    JudgeVerdict,
    LLMJudge,
    Verdict,
    build_grader,
    parse_verdict,
    register,
)
from agent_testkit.evals.matching import matches, mismatch
from agent_testkit.evals.reports import (
    EvalRun,
    junit_xml,
    load_results,
    render_html,
    write_html,
    write_junit,
    write_results,
)
from agent_testkit.evals.runner import run_cases
from agent_testkit.evals.scoring import CaseResult, Scores, aggregate, case_score, grade_case
from agent_testkit.evals.scripts import PlaceholderError, script_items, substitute
from agent_testkit.evals.transcript import ToolCallRecord, Transcript, Turn, Usage

__all__ = [
    "DEFAULT_MAX_DROP",
    "JUDGE_OUTPUT_SCHEMA",
    "JUDGE_SYSTEM_PROMPT",
    "Baseline",
    "BaselineError",
    "Case",
    "CaseChange",
    "CaseFormatError",
    "CaseResult",
    "Check",
    "EvalRun",
    "Expectation",
    "GateReport",
    "GradeContext",
    "Grader",
    "GraderResult",
    "GraderSpecError",
    "JudgeError",
    "JudgeVerdict",
    "LLMJudge",
    "PlaceholderError",
    "Scores",
    "ToolCallRecord",
    "Transcript",
    "Turn",
    "Usage",
    "Verdict",
    "aggregate",
    "build_grader",
    "case_score",
    "changed_cases",
    "compare",
    "grade_case",
    "junit_xml",
    "load_case_file",
    "load_cases",
    "load_results",
    "matches",
    "mismatch",
    "parse_verdict",
    "register",
    "render_html",
    "run_cases",
    "script_items",
    "substitute",
    "write_html",
    "write_junit",
    "write_results",
]
