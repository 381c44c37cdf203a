"""`agent_testkit.evals`'s public names are a contract, pinned here; and it never imports an app."""

import subprocess
import sys

import agent_testkit.evals


def test_evals_all():
    assert sorted(agent_testkit.evals.__all__) == [
        "Baseline",
        "BaselineError",
        "Case",
        "CaseChange",
        "CaseFormatError",
        "CaseResult",
        "Check",
        "DEFAULT_MAX_DROP",
        "EvalRun",
        "Expectation",
        "GateReport",
        "GradeContext",
        "Grader",
        "GraderResult",
        "GraderSpecError",
        "JUDGE_OUTPUT_SCHEMA",
        "JUDGE_SYSTEM_PROMPT",
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


def test_the_evals_never_import_the_service():
    code = "import sys, agent_testkit.evals; print('agent_service' in sys.modules)"
    out = subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"
