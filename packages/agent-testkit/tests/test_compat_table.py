"""scripts/compat_table.py: the client x feature table, written from a JUnit XML report as run."""

import importlib.util
from pathlib import Path

SCRIPT = Path(__file__).parents[1] / "scripts" / "compat_table.py"
spec = importlib.util.spec_from_file_location("compat_table", SCRIPT)
assert spec and spec.loader
compat_table = importlib.util.module_from_spec(spec)
spec.loader.exec_module(compat_table)

REPORT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest">
  <testcase classname="test_compat_clients" name="test_openai_chat_reply"/>
  <testcase classname="test_compat_clients" name="test_openai_chat_tool_loop"/>
  <testcase classname="test_compat_clients" name="test_openai_chat_streamed_tool_call">
    <failure message="boom">AssertionError</failure></testcase>
  <testcase classname="test_compat_clients" name="test_openai_chat_429_then_success">
    <skipped message="no"/></testcase>
</testsuite></testsuites>
"""


def row(markdown: str, client: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {client} |"))
    return [cell.strip() for cell in line.strip("|").split("|")]


def test_cells_say_what_ran_and_how(tmp_path: Path) -> None:
    report = tmp_path / "compat.xml"
    report.write_text(REPORT)
    out = tmp_path / "compat.md"
    assert compat_table.main([str(report), "--out", str(out)]) == 1  # a failure gates
    markdown = out.read_text()
    assert "1 passed, 1 failed" not in markdown  # counted per test: 2 passed
    assert "(2 passed, 1 failed, 1 skipped)" in markdown
    assert row(markdown, "openai `AsyncOpenAI()` chat") == [
        "openai `AsyncOpenAI()` chat",
        "Chat Completions",
        "pass",
        "pass",
        "FAIL",
        "skipped",
    ]
    assert row(markdown, "anthropic `AsyncAnthropic()`")[2:] == ["not run"] * 4
    langgraph = row(markdown, "langgraph `StateGraph` + `ToolNode` (ChatOpenAI)")
    assert langgraph[2] == "" and langgraph[-1] == ""  # no such feature: left empty


def test_a_clean_run_exits_0(tmp_path: Path) -> None:
    names = [
        test for _, _, tests in compat_table.CLIENTS for group in tests.values() for test in group
    ]
    cases = "".join(f'<testcase classname="c" name="{name}"/>' for name in names)
    report = tmp_path / "compat.xml"
    report.write_text(f"<testsuites><testsuite>{cases}</testsuite></testsuites>")
    assert compat_table.main([str(report), "--out", str(tmp_path / "compat.md")]) == 0
