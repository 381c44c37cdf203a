"""Each grader with a passing and a failing case, over hand-made transcripts (and, for `state`, a
small HTTP app of our own): the graders read only transcripts and HTTP, never the app's code."""

import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agent_testkit.evals import (
    GradeContext,
    GraderSpecError,
    ToolCallRecord,
    Transcript,
    Turn,
    Usage,
    build_grader,
)


def transcript(*turns: Turn) -> Transcript:
    return Transcript(list(turns))


CREATED = Turn(
    "add a high priority task to renew my passport",
    200,
    reply="Added 'Renew passport' as a high-priority task.",
    tool_calls=[
        ToolCallRecord(
            "create_task",
            {"title": "Renew passport", "priority": "high"},
            {"task": {"id": "t-1", "title": "Renew passport", "priority": "high"}},
        )
    ],
    usage=Usage(900, 40, 940),
    latency_s=0.4,
)
REFUSED = Turn(
    "mark task t-9 done",
    200,
    reply="I couldn't find that task.",
    tool_calls=[
        ToolCallRecord(
            "update_task",
            {"task_id": "t-9", "status": "done"},
            {"error": "task_not_found", "detail": "No task with id 't-9'."},
            is_error=True,
        )
    ],
    usage=Usage(500, 10, 510),
    latency_s=0.2,
)
FAILED = Turn("hi", 503, error="llm_unavailable", detail="The LLM provider is unavailable.")


async def grade(kind: str, spec: object, *turns: Turn, **context: object):
    grader = build_grader(kind, spec)
    return await grader.grade(GradeContext(transcript(*turns), **context), weight=2.0)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kind", "spec", "passes"),
    [
        ("contains", "renew passport", True),  # case-insensitive by default
        ("contains", {"text": "renew passport", "case_sensitive": True}, False),
        ("contains", ["Renew passport", "high-priority"], True),
        ("contains", ["Renew passport", "low-priority"], False),
        ("contains", {"any_of": ["nope", "high-priority"]}, True),
        ("contains", {"text": '"priority": "high"', "in": "tool_arguments"}, True),
        ("contains", {"text": "t-1", "in": "tool_results"}, True),
        ("contains", {"text": "t-1", "in": "reply"}, False),
        ("not_contains", "low priority", True),
        ("not_contains", {"any_of": ["nope", "Renew"]}, False),
        ("not_contains", {"text": "t-1", "in": "all"}, False),
        ("regex", r"'[A-Z][a-z]+ passport'", True),
        ("regex", {"pattern": r"\bP[0-3]\b"}, False),
    ],
)
async def test_text_graders(kind, spec, passes):
    result = await grade(kind, spec, CREATED)
    assert result.passed is passes
    assert result.score == (1.0 if passes else 0.0)
    assert result.weight == 2.0 and result.kind == kind
    assert result.reason


async def test_not_contains_failure_quotes_where_it_was_found():
    result = await grade("not_contains", {"text": "passport", "in": "replies"}, CREATED)
    assert "contains 'passport'" in result.reason and "Renew passport" in result.reason


@pytest.mark.parametrize(
    ("spec", "passes"),
    [
        ({"name": "create_task"}, True),
        ("create_task", True),
        ({"name": "create_task", "arguments": {"priority": "high"}}, True),
        ({"name": "create_task", "arguments": {"priority": "low"}}, False),
        ({"name": "create_task", "arguments": {"title": {"regex": "(?i)passport"}}}, True),
        ({"name": "create_task", "arguments": {"title": {"contains": "visa"}}}, False),
        ({"name": "create_task", "arguments": {"project_id": {"absent": True}}}, True),
        ({"name": "create_task", "count": 1}, True),
        ({"name": "create_task", "count": 2}, False),
        ({"name": "update_task", "count": 0}, False),
        ({"name": "update_task", "is_error": True}, True),
        ({"name": "update_task", "is_error": False}, False),
        ({"name": "list_tasks", "count": 0}, True),
        ({"name": "list_tasks"}, False),
        ({"name": "update_task", "min": 1, "max": 1}, True),
    ],
)
async def test_tool_called(spec, passes):
    result = await grade("tool_called", spec, CREATED, REFUSED)
    assert result.passed is passes, result.reason


async def test_tool_called_failure_names_the_closest_call():
    result = await grade(
        "tool_called", {"name": "create_task", "arguments": {"priority": "low"}}, CREATED
    )
    assert "arguments.priority is 'high', expected 'low'" in result.reason
    assert "tools called: create_task" in result.reason


async def test_turn_scoping():
    first = await grade("tool_called", {"name": "update_task", "turn": 0}, CREATED, REFUSED)
    second = await grade("tool_called", {"name": "update_task", "turn": 1}, CREATED, REFUSED)
    missing = await grade("contains", {"text": "x", "turn": 5}, CREATED)
    assert (first.passed, second.passed) == (False, True)
    assert first.name.endswith("on turn 0")
    assert not missing.passed and "no turn 5" in missing.reason


@pytest.mark.parametrize(
    ("spec", "turns", "passes"),
    [
        ({"status": 200}, [CREATED], True),
        (200, [CREATED, FAILED], False),
        ({"status": 503, "error": "llm_unavailable"}, [CREATED, FAILED], True),
        ({"status": 503, "error": "llm_timeout"}, [FAILED], False),
        ({"status": 200, "turn": "all"}, [CREATED, REFUSED], True),
        ({"status": 200, "turn": "all"}, [CREATED, FAILED], False),
        ({"status": 200, "turn": 0}, [CREATED, FAILED], True),
    ],
)
async def test_http_status(spec, turns, passes):
    assert (await grade("http_status", spec, *turns)).passed is passes


REPLY_SCHEMA = {
    "type": "object",
    "required": ["priority", "summary"],
    "properties": {"priority": {"enum": ["P0", "P1", "P2", "P3"]}, "summary": {"type": "string"}},
}


@pytest.mark.parametrize(
    ("reply", "passes", "reason"),
    [
        ('{"priority": "P1", "summary": "Export drops rows."}', True, "valid"),
        ('```json\n{"priority": "P0", "summary": "Outage."}\n```', True, "valid"),
        ('{"priority": "P5", "summary": "?"}', False, "priority: 'P5' is not one of"),
        ('{"summary": "no priority"}', False, "'priority' is a required property"),
        ("Here is my triage: P1", False, "not JSON"),
    ],
)
async def test_json_schema_of_the_reply(reply, passes, reason):
    result = await grade("json_schema", {"schema": REPLY_SCHEMA}, Turn("triage", 200, reply=reply))
    assert result.passed is passes
    assert reason in result.reason


async def test_json_schema_of_tool_arguments():
    schema = {"type": "object", "required": ["title"], "properties": {"title": {"maxLength": 20}}}
    ok = await grade(
        "json_schema", {"schema": schema, "in": "tool_arguments", "tool": "create_task"}, CREATED
    )
    too_long = await grade(
        "json_schema",
        {
            "schema": {**schema, "properties": {"title": {"maxLength": 5}}},
            "in": "tool_arguments",
            "tool": "create_task",
        },
        CREATED,
    )
    none = await grade(
        "json_schema", {"schema": schema, "in": "tool_results", "tool": "list_tasks"}, CREATED
    )
    assert ok.passed and not too_long.passed and not none.passed
    assert "no call of 'list_tasks'" in none.reason


@pytest.mark.parametrize(
    ("kind", "spec", "passes"),
    [
        ("latency", {"max_s": 1.0}, True),
        ("latency", {"max_s": 0.5}, False),  # 0.4 + 0.2 for the case
        ("latency", {"max_s": 0.5, "per": "turn"}, True),
        ("tokens", {"max_total": 1500}, True),
        ("tokens", 1000, False),
        ("tokens", {"max_prompt": 1400, "max_completion": 60}, True),
        ("tokens", {"max_completion": 40}, False),
    ],
)
async def test_budgets(kind, spec, passes):
    result = await grade(kind, spec, CREATED, REFUSED)
    assert result.passed is passes, result.reason


def tasks_app() -> Starlette:
    """A stand-in for an app's own API: tasks per bearer token."""
    tasks = {
        "alice": [
            {"id": "t-1", "title": "Renew passport", "priority": "high", "status": "pending"},
            {"id": "t-2", "title": "Buy milk", "priority": "medium", "status": "done"},
        ],
        "bob": [{"id": "t-3", "title": "Payroll", "priority": "high", "status": "pending"}],
    }

    def owner(request: Request) -> str:
        return request.headers.get("authorization", "").removeprefix("Bearer ")

    async def list_tasks(request: Request) -> JSONResponse:
        items = [
            t
            for t in tasks.get(owner(request), [])
            if all(t[k] == v for k, v in request.query_params.items())
        ]
        return JSONResponse({"items": items, "total": len(items)})

    async def get_task(request: Request) -> JSONResponse:
        for task in tasks.get(owner(request), []):
            if task["id"] == request.path_params["task_id"]:
                return JSONResponse(task)
        return JSONResponse({"error": "task_not_found", "detail": "No such task."}, 404)

    return Starlette(
        routes=[Route("/api/tasks", list_tasks), Route("/api/tasks/{task_id}", get_task)]
    )


@pytest.fixture
async def clients():
    transport = httpx.ASGITransport(app=tasks_app())
    made = {
        role: httpx.AsyncClient(
            transport=transport,
            base_url="http://app.test",
            headers={"Authorization": f"Bearer {name}"},
        )
        for role, name in (("user", "alice"), ("other", "bob"))
    }
    yield made
    for client in made.values():
        await client.aclose()


@pytest.mark.parametrize(
    ("spec", "passes"),
    [
        ({"get": "/api/tasks", "match": {"title": "Renew passport", "priority": "high"}}, True),
        ({"get": "/api/tasks", "match": {"title": "Renew passport", "priority": "low"}}, False),
        ({"get": "/api/tasks", "count": 2}, True),
        ({"get": "/api/tasks", "params": {"status": "done"}, "count": 1}, True),
        ({"get": "/api/tasks", "match": {"title": "Payroll"}, "count": 0}, True),
        ({"get": "/api/tasks", "as": "other", "match": {"title": "Payroll"}}, True),
        ({"get": "/api/tasks/t-1", "match": {"status": "pending"}}, True),
        ({"get": "/api/tasks/t-3", "status": 404}, True),
        ({"get": "/api/tasks/t-3"}, False),
        ({"get": "/api/tasks", "min": 3}, False),
        ({"get": "/api/tasks", "as": "admin"}, False),
    ],
)
async def test_state_through_the_apps_api(clients, spec, passes):
    result = await grade("state", spec, CREATED, clients=clients)
    assert result.passed is passes, result.reason


async def test_state_failure_says_what_differed(clients):
    result = await grade(
        "state",
        {"get": "/api/tasks", "match": {"title": "Renew passport", "priority": "low"}},
        CREATED,
        clients=clients,
    )
    assert "0 of 2 item(s) at /api/tasks match, expected >=1" in result.reason
    assert "priority is 'high', expected 'low'" in result.reason


@pytest.mark.parametrize(
    ("kind", "spec", "message"),
    [
        ("contain", "x", "unknown grader 'contain'"),
        ("contains", {"text": "x", "where": "reply"}, "unknown option(s) ['where']"),
        ("contains", {"text": "x", "in": "body"}, "`in` is 'body'"),
        ("regex", "(unclosed", "not a valid pattern"),
        ("json_schema", {"schema": {"type": "nope"}}, "not a valid schema"),
        ("json_schema", {"schema": {}, "in": "tool_results"}, "needs `tool: <name>`"),
        ("tool_called", {"count": 1}, "give the tool's `name`"),
        ("tool_called", {"name": "x", "count": 1, "min": 1}, "not both"),
        ("state", {"get": "api/tasks"}, "must be a path starting with '/'"),
        ("latency", {"max_s": 1, "per": "step"}, "use case or turn"),
        ("tokens", {}, "give max_total"),
        ("llm_judge", {"rubric": " "}, "give a `rubric`"),
        ("llm_judge", {"rubric": "ok", "pass_score": 2}, "must be in 0..1"),
        ("contains", {"text": "x", "turn": "last"}, "`turn` must be an index"),
    ],
)
def test_bad_specs_are_refused_with_a_reason(kind, spec, message):
    with pytest.raises(GraderSpecError, match=None) as caught:
        build_grader(kind, spec)
    assert message in str(caught.value)


async def test_a_grader_that_raises_is_a_failure_not_a_crash():
    broken = Turn("x", 200, reply="x", tool_calls=[ToolCallRecord("create_task", "{not json", {})])
    result = await grade(
        "json_schema", {"schema": {}, "in": "tool_arguments", "tool": "create_task"}, broken
    )
    assert not result.passed
    assert "not JSON" in result.reason


def test_transcript_json_leaves_out_raw_bodies():
    turn = Turn("hi", 200, reply="Hello", body={"big": "x" * 1000})
    data = Transcript([turn]).to_json()
    assert "body" not in data["turns"][0]
    assert json.dumps(data)
