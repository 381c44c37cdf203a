"""Write the compatibility table (client x feature) from a JUnit XML report of the compat suite's run.

    pytest packages/agent-testkit/tests/test_compat_clients.py \
        packages/agent-testkit/tests/test_compat_litellm.py \
        packages/agent-testkit/tests/test_compat_frameworks.py \
        packages/agent-testkit/tests/test_gemini_api.py --junitxml=var/compat.xml
    python packages/agent-testkit/scripts/compat_table.py var/compat.xml \
        --out packages/agent-testkit/docs/compat.md

A cell is "pass" only when every test behind it passed in that run; "FAIL" when any failed or errored,
"skipped" when all were skipped, "not run" when the report has none of them, and empty when the client
has no such feature. The exit status is 1 when a cell failed or was not run, so CI can gate on it.
"""

from __future__ import annotations

import argparse
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

FEATURES = ("reply", "tool round trip", "stream", "429 then success")
# client, wire format, {feature: test names (with their parameter id) that prove it}
CLIENTS: list[tuple[str, str, dict[str, list[str]]]] = [
    (
        "openai `AsyncOpenAI()` chat",
        "Chat Completions",
        {
            "reply": ["test_openai_chat_reply"],
            "tool round trip": ["test_openai_chat_tool_loop"],
            "stream": ["test_openai_chat_streamed_tool_call"],
            "429 then success": ["test_openai_chat_429_then_success"],
        },
    ),
    (
        "openai `AsyncOpenAI()` responses",
        "Responses",
        {
            "reply": ["test_openai_responses_reply"],
            "tool round trip": ["test_openai_responses_tool_loop"],
            "stream": ["test_openai_responses_streamed_tool_call"],
            "429 then success": ["test_openai_responses_429_then_success"],
        },
    ),
    (
        "anthropic `AsyncAnthropic()`",
        "Messages",
        {
            "reply": ["test_anthropic_reply"],
            "tool round trip": ["test_anthropic_tool_loop"],
            "stream": ["test_anthropic_streamed_tool_call"],
            "429 then success": ["test_anthropic_429_then_success"],
        },
    ),
    (
        "openai-agents `Agent` + `Runner`",
        "Responses",
        {
            "reply": ["test_openai_agents_reply"],
            "tool round trip": ["test_openai_agents_tool_loop"],
            "stream": ["test_openai_agents_streamed_tool_call"],
            "429 then success": ["test_openai_agents_429_then_success"],
        },
    ),
    *[
        (
            f"pydantic-ai `{model}`",
            api,
            {
                "reply": [f"test_pydantic_ai_reply[{model}]"],
                "tool round trip": [f"test_pydantic_ai_tool_loop[{model}]"],
                "stream": [f"test_pydantic_ai_streamed_tool_call[{model}]"],
                "429 then success": [f"test_pydantic_ai_429_then_success[{model}]"],
            },
        )
        for model, api in (
            ("OpenAIChatModel", "Chat Completions"),
            ("OpenAIResponsesModel", "Responses"),
            ("AnthropicModel", "Messages"),
        )
    ],
    *[
        (
            f"LangChain `{label}`",
            api,
            {
                "reply": [f"test_langchain_reply[{model}]"],
                "tool round trip": [f"test_langchain_tool_loop[{model}]"],
                "stream": [f"test_langchain_streamed_tool_call[{model}]"],
                "429 then success": [f"test_langchain_429_then_success[{model}]"],
            },
        )
        for model, label, api in (
            ("ChatOpenAI", "ChatOpenAI", "Chat Completions"),
            ("ChatOpenAI-responses", "ChatOpenAI(use_responses_api=True)", "Responses"),
            ("ChatAnthropic", "ChatAnthropic", "Messages"),
        )
    ],
    (
        "langgraph `StateGraph` + `ToolNode` (ChatOpenAI)",
        "Chat Completions",
        {
            "tool round trip": ["test_langgraph_tool_round_trip"],
            "stream": ["test_langgraph_streamed_tokens"],
        },
    ),
    *[
        (
            f"litellm `{mode}` (`{provider}/...`)",
            api,
            {
                "tool round trip": [f"test_litellm_{way}_tool_loop[{provider}]"],
                "stream": [f"test_litellm_{way}_streamed_tool_call[{provider}]"],
                "429 then success": [f"test_litellm_{way}_429_then_success[{provider}]"]
                if way == "async"
                else [],
            },
        )
        for way, mode in (("sync", "completion"), ("async", "acompletion"))
        for provider, api in (("openai", "Chat Completions"), ("anthropic", "Messages"))
    ],
    (
        "instructor `from_openai(AsyncOpenAI())`",
        "Chat Completions",
        {
            "tool round trip": [  # its structured output is a tool call, validated
                "test_instructor_structured_output_is_a_checked_tool_call",
                "test_instructor_retries_a_deliberately_invalid_answer",
            ],
            "stream": ["test_instructor_streams_partial_objects"],
        },
    ),
    (
        "google-genai `Client()`",
        "Gemini",
        {
            "reply": ["test_a_reply_and_what_the_model_was_sent"],
            "tool round trip": [
                "test_google_genai_tool_round_trip",
                "test_automatic_function_calling_round_trip",
            ],
            "stream": [
                "test_google_genai_streamed_tool_round_trip",
                "test_async_stream_of_words_and_a_function_call",
            ],
        },
    ),
]


def outcomes(reports: Iterable[Path]) -> dict[str, str]:
    """Each test's outcome ("passed", "failed", "skipped") by its name with parameters."""
    found: dict[str, str] = {}
    for report in reports:
        tree = ET.parse(report)  # noqa: S314 - our own pytest run's report, not untrusted input
        for case in tree.getroot().iter("testcase"):
            name = case.get("name", "")
            if case.find("failure") is not None or case.find("error") is not None:
                found[name] = "failed"
            elif case.find("skipped") is not None:
                found.setdefault(name, "skipped")
            else:
                found.setdefault(name, "passed")
    return found


def cell(tests: list[str], found: dict[str, str]) -> str:
    if not tests:
        return ""
    seen = [found.get(test) for test in tests]
    if "failed" in seen:
        return "FAIL"
    if all(outcome is None for outcome in seen):
        return "not run"
    if all(outcome in ("skipped", None) for outcome in seen):
        return "skipped"
    return "pass"


def table(found: dict[str, str]) -> tuple[str, bool]:
    """The markdown table, and whether every cell with tests passed."""
    lines = [
        "| client (on its defaults, no base URL) | wire format | " + " | ".join(FEATURES) + " |",
        "| --- | --- | " + " | ".join("---" for _ in FEATURES) + " |",
    ]
    ok = True
    for client, api, tests in CLIENTS:
        cells = [cell(tests.get(feature, []), found) for feature in FEATURES]
        ok = ok and all(c in ("pass", "") for c in cells)
        lines.append(f"| {client} | {api} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n", ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("reports", nargs="+", type=Path, help="JUnit XML files of the compat run")
    parser.add_argument("--out", type=Path, help="write the markdown here (default: stdout)")
    args = parser.parse_args(argv)
    found = outcomes(args.reports)
    markdown, ok = table(found)
    counts = {o: sum(1 for v in found.values() if v == o) for o in ("passed", "failed", "skipped")}
    heading = (
        "# Compatibility, as run\n\nGenerated by `scripts/compat_table.py` from the JUnit XML of the "
        f"kit's compat suite ({counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['skipped']} skipped). Each cell is the outcome of the tests named in the script.\n\n"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(heading + markdown)
    else:
        sys.stdout.write(heading + markdown)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
