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
        "CaseOutcome",
        "CaseResult",
        "Check",
        "DEFAULT_MAX_DROP",
        "Difference",
        "EvalRun",
        "Expectation",
        "GateReport",
        "GradeContext",
        "Grader",
        "GraderResult",
        "GraderSpecError",
        "Interval",
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
        "bootstrap_interval",
        "build_grader",
        "case_outcomes",
        "case_score",
        "changed_cases",
        "compare",
        "grade_case",
        "junit_xml",
        "load_case_file",
        "load_cases",
        "load_results",
        "matches",
        "minimum_detectable_effect",
        "mismatch",
        "paired_difference",
        "parse_verdict",
        "register",
        "render_html",
        "run_cases",
        "script_items",
        "substitute",
        "unpaired_difference",
        "vary_script",
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
