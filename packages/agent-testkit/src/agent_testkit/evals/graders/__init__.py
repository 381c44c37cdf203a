"""The graders, one module per family; importing this package registers every kind."""

from agent_testkit.evals.graders.base import (
    REGISTRY,
    GradeContext,
    Grader,
    GraderResult,
    GraderSpecError,
    Verdict,
    build_grader,
    register,
)
from agent_testkit.evals.graders.budget import Latency, Tokens
from agent_testkit.evals.graders.judge import (
    JUDGE_OUTPUT_SCHEMA,
    JUDGE_SYSTEM_PROMPT,
    JudgeError,
    JudgeVerdict,
    LLMJudge,
    LlmJudgeGrader,
    parse_verdict,
)
from agent_testkit.evals.graders.schema import JsonSchema, parse_json_text
from agent_testkit.evals.graders.state import State, StateRequest
from agent_testkit.evals.graders.text import Contains, NotContains, Regex
from agent_testkit.evals.graders.tools import HttpStatus, ToolCalled

__all__ = [
    "JUDGE_OUTPUT_SCHEMA",
    "JUDGE_SYSTEM_PROMPT",
    "REGISTRY",
    "Contains",
    "GradeContext",
    "Grader",
    "GraderResult",
    "GraderSpecError",
    "HttpStatus",
    "JsonSchema",
    "JudgeError",
    "JudgeVerdict",
    "LLMJudge",
    "Latency",
    "LlmJudgeGrader",
    "NotContains",
    "Regex",
    "State",
    "StateRequest",
    "Tokens",
    "ToolCalled",
    "Verdict",
    "build_grader",
    "parse_json_text",
    "parse_verdict",
    "register",
]
