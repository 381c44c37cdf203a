"""Case files: what they may hold, the errors that name file, case and field, and the scripts with
placeholders that the fake LLM plays."""

import json
import textwrap

import httpx
import pytest

from agent_testkit import FakeLLM
from agent_testkit.evals import (
    CaseFormatError,
    PlaceholderError,
    load_cases,
    script_items,
    substitute,
)


def write(tmp_path, name, text):
    (tmp_path / name).write_text(textwrap.dedent(text))


def test_files_load_in_order_with_defaults(tmp_path):
    write(
        tmp_path,
        "b.yaml",
        """
        defaults: {agent: assistant, tags: [tasks]}
        cases:
          - id: second-file
            tags: [safety]
            turns: ["hi"]
            expect: [{contains: hi}]
        """,
    )
    write(
        tmp_path,
        "a.yaml",
        """
        - id: first-file
          description: >
            Folded text.
          tags: [documents]
          agent: researcher
          setup: {documents: [{name: a.md, text: "# A"}]}
          turns: ["what?", {message: "streamed", stream: true}]
          expect:
            - {tool_called: search_documents, weight: 2}
            - {state: {get: "/api/documents/${document:a.md}"}}
          script: [{reply: "x"}]
          judge: [{verdict: {score: 1, reasoning: ok}}]
          cassette: custom.yaml
        """,
    )
    first, second = load_cases(tmp_path)
    assert (first.id, second.id) == ("first-file", "second-file")
    assert second.tags == ("tasks", "safety") and second.agent == "assistant"
    assert first.turns[1] == {"message": "streamed", "stream": True}
    assert [(e.kind, e.weight) for e in first.expect] == [("tool_called", 2.0), ("state", 1.0)]
    assert first.description == "Folded text."
    assert first.source == "a.yaml#1" and first.cassette == "custom.yaml"
    assert first.uses_judge() is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- {id: x, tags: [t], agent: a, turns: [hi]}", "`expect` must be a non-empty list"),
        ("- {id: x, tags: [t], agent: a, turns: [], expect: [{contains: a}]}", "`turns` must be"),
        ("- {id: x, agent: a, turns: [hi], expect: [{contains: a}]}", "at least one tag"),
        ("- {id: x, tags: [t], turns: [hi], expect: [{contains: a}]}", "give the `agent`"),
        (
            "- {id: Bad Id, tags: [t], agent: a, turns: [hi], expect: [{contains: a}]}",
            "`id` must be",
        ),
        (
            "- {id: x, tags: [t], agent: a, turns: [hi], expect: [{contains: a}], scrip: []}",
            "unknown key(s) ['scrip']",
        ),
        (
            "- {id: x, tags: [t], agent: a, turns: [hi], expect: [{contains: a, regex: b}]}",
            "exactly one grader",
        ),
        (
            "- {id: x, tags: [t], agent: a, turns: [hi], expect: [{contains: a, weight: 0}]}",
            "weight must be a positive",
        ),
        (
            "- {id: x, tags: [t], agent: a, turns: [hi], expect: [{contans: a}]}",
            "unknown grader 'contans'",
        ),
        (
            "- {id: x, tags: [t], agent: a, turns: [hi], expect: [{regex: '('}]}",
            "not a valid pattern",
        ),
        ("{cases: [], extra: 1}", "unknown top-level key(s) ['extra']"),
        ("- [not, a, mapping]", "a case is a mapping"),
        ("- {id: x\n", "not valid YAML"),
    ],
)
def test_a_bad_case_names_its_file_and_problem(tmp_path, text, message):
    write(tmp_path, "bad.yaml", text)
    with pytest.raises(CaseFormatError) as caught:
        load_cases(tmp_path)
    assert "bad.yaml" in str(caught.value)
    assert message in str(caught.value)


def test_ids_are_unique_across_files(tmp_path):
    case = "- {id: same, tags: [t], agent: a, turns: [hi], expect: [{contains: a}]}"
    write(tmp_path, "one.yaml", case)
    write(tmp_path, "two.yaml", case)
    with pytest.raises(
        CaseFormatError, match=r"two.yaml#1: case id 'same' is already used at one.yaml#1"
    ):
        load_cases(tmp_path)


def test_an_empty_folder_is_an_error(tmp_path):
    with pytest.raises(CaseFormatError, match="no case files"):
        load_cases(tmp_path)


def test_substitute_fills_placeholders_deeply():
    value = {"path": "/api/tasks/${task:A}", "list": ["${task:A}", 3], "keep": "${result:x.y}"}
    filled = substitute(value, {"task:A": "t-1"}, keep_results=True)
    assert filled == {"path": "/api/tasks/t-1", "list": ["t-1", 3], "keep": "${result:x.y}"}
    with pytest.raises(PlaceholderError, match=r"unknown placeholder \$\{task:B\}; known: task:A"):
        substitute("${task:B}", {"task:A": "t-1"})


async def chat(fake: FakeLLM, messages: list[dict]) -> dict:
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{fake.base_url}/chat/completions", json={"model": "m", "messages": messages}
        )
    return r.json()["choices"][0]["message"]


@pytest.mark.fake_llm(checked=False)  # raw requests that offer no tools: the items alone are tested
async def test_script_items_with_variables_and_results_from_the_request(fake_llm):
    entries = [
        {
            "tool_call": {
                "name": "update_task",
                "arguments": {"task_id": "${task:Buy milk}", "status": "done"},
            }
        },
        {
            "tool_call": {
                "name": "read",
                "arguments": {"chunk_id": "${result:search.results.1.chunk_id}"},
            }
        },
        {"verdict": {"score": 0.5, "reasoning": "half"}},
        "timeout",
    ]
    items = script_items(entries, {"task:Buy milk": "t-42"})
    assert [type(i).__name__ for i in items] == ["ToolCalls", "Respond", "Reply", "Hang"]
    fake_llm.script(*items[:3])

    first = await chat(fake_llm, [{"role": "user", "content": "done with milk"}])
    assert json.loads(first["tool_calls"][0]["function"]["arguments"]) == {
        "task_id": "t-42",
        "status": "done",
    }

    history = [
        {"role": "user", "content": "q"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}
            ],
        },
        {
            "role": "tool",
            "tool_call_id": "c1",
            "content": json.dumps({"results": [{"chunk_id": "k-0"}, {"chunk_id": "k-1"}]}),
        },
    ]
    second = await chat(fake_llm, history)
    assert json.loads(second["tool_calls"][0]["function"]["arguments"]) == {"chunk_id": "k-1"}

    third = await chat(fake_llm, [{"role": "user", "content": "judge"}])
    assert json.loads(third["content"]) == {"score": 0.5, "reasoning": "half"}


def test_an_unknown_variable_in_a_script_is_an_error_up_front():
    with pytest.raises(PlaceholderError):
        script_items([{"reply": "${task:Nope}"}], {})
