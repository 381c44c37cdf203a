"""Every input from outside is a 4xx, never a 500, on SQLite and PostgreSQL alike.

Each case was a 500 (or stored what PostgreSQL cannot): integers past the database's range
(`Last-Event-ID`, a webhook's `issue.number`), JSON nested 100,000 deep, NUL in free-form JSON,
numbers no database stores (`NaN`, `Infinity`, `1e400`). `agent_service.bounds` is the one place
that bounds them; these tests send each one for real.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from agent_service.bounds import INT_MAX, MAX_JSON_DEPTH
from agent_service.settings import Settings
from agent_testkit import FakeLLM, github_webhook
from tests.conftest import use_fake_llm
from tests.factories import TestUser

SECRET = "webhook-secret-for-input-limits"
JSON = {"content-type": "application/json"}


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings.github_webhook_secret = SecretStr(SECRET)
    return use_fake_llm(settings, fake_llm.base_url)


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def issue_opened(number: Any, **extra: Any) -> bytes:
    payload = {
        "action": "opened",
        "issue": {"number": number, "title": "t", "body": "b"},
        "repository": {"full_name": "octo/repo"},
        **extra,
    }
    return json.dumps(payload).encode()


async def deliver(client: httpx.AsyncClient, body: bytes) -> httpx.Response:
    signed, headers = github_webhook(SECRET, body, event="issues", delivery_id="d-1")
    return await client.post("/webhooks/github", content=signed, headers=headers)


REFUSED_WEBHOOKS = {
    "issue.number 2^31 (past PostgreSQL's integer)": issue_opened(INT_MAX + 1),
    "issue.number 2^63 (past SQLite's)": issue_opened(2**63),
    "issue.number negative": issue_opened(-(2**63) - 1),
    "NUL in a string": issue_opened(7, note="a\x00b"),
    "NUL in a key": issue_opened(7, **{"k\x00": 1}),
    "NaN": b'{"action": "opened", "x": NaN}',
    "Infinity": b'{"action": "opened", "x": -Infinity}',
    "1e400": b'{"action": "opened", "x": 1e400}',
    "5,000 digits": b'{"action": "opened", "x": ' + b"9" * 5000 + b"}",
    "100,000 deep": b'{"a": ' + nested(100_000) + b"}",
    "one level too deep": b'{"a": ' + nested(MAX_JSON_DEPTH) + b"}",
}


@pytest.mark.parametrize("body", REFUSED_WEBHOOKS.values(), ids=REFUSED_WEBHOOKS.keys())
async def test_a_signed_webhook_out_of_bounds_is_400(
    client: httpx.AsyncClient, admin: TestUser, body: bytes
) -> None:
    r = await deliver(client, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_webhook"
    listed = await client.get("/api/integrations/github/deliveries", headers=admin.headers)
    assert listed.json() == []  # nothing recorded


async def test_a_webhook_at_the_bounds_is_accepted(client: httpx.AsyncClient) -> None:
    r = await deliver(client, issue_opened(INT_MAX, deep=json.loads(nested(MAX_JSON_DEPTH - 3))))
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "accepted"}


@pytest.fixture
async def finished_run(client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM) -> str:
    fake_llm.script(fake_llm.reply("Hi."))
    r = await client.post("/api/agent/chat", json={"message": "hi"}, headers=user.headers)
    assert r.status_code == 200, r.text
    return str(r.json()["run_id"])


@pytest.mark.parametrize(
    "value", ["9223372036854775808", "9223372036854775807", str(INT_MAX + 1), "null", "-1", "1e3"]
)
async def test_last_event_id_out_of_range_is_400(
    client: httpx.AsyncClient, user: TestUser, finished_run: str, value: str
) -> None:
    r = await client.get(
        f"/api/runs/{finished_run}/events", headers={**user.headers, "Last-Event-ID": value}
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_request"
    assert "Last-Event-ID" in r.json()["detail"]


async def test_last_event_id_at_the_bound_replays_nothing(
    client: httpx.AsyncClient, user: TestUser, finished_run: str
) -> None:
    r = await client.get(
        f"/api/runs/{finished_run}/events",
        headers={**user.headers, "Last-Event-ID": str(INT_MAX)},
    )
    assert r.status_code == 200, r.text
    assert "event:" not in r.text


REFUSED_BODIES = {
    "100,000 deep": b'{"title": "t", "x": ' + nested(100_000) + b"}",
    "900 deep": b'{"title": "t", "x": ' + nested(900) + b"}",
    "NaN": b'{"name": "a", "metadata": {"k": NaN}}',
    "-Infinity": b'{"name": "a", "metadata": {"k": -Infinity}}',
    "1e400": b'{"name": "a", "metadata": {"k": 1e400}}',
    "past 64 bits": b'{"name": "a", "metadata": {"k": 9223372036854775808}}',
}


@pytest.mark.parametrize("path", ["/api/assistants", "/api/tasks"])
@pytest.mark.parametrize("body", REFUSED_BODIES.values(), ids=REFUSED_BODIES.keys())
async def test_a_json_body_out_of_bounds_is_400(
    client: httpx.AsyncClient, user: TestUser, path: str, body: bytes
) -> None:
    """Rules no schema states: 400 (a 422 would say the published schema was broken)."""
    r = await client.post(path, content=body, headers={**user.headers, **JSON})
    assert r.status_code == 400, r.text
    assert r.json()["error"] == "invalid_json"


async def test_nul_in_free_form_json_is_refused_by_its_schema(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    """Metadata values are JSON whose strings publish the NUL rule as a pattern: a 422 there."""
    metadata = {"k": ["a\x00b"]}
    r = await client.post(
        "/api/assistants", json={"name": "a", "metadata": metadata}, headers=user.headers
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"] == "validation_error"


async def test_a_body_without_content_type_is_checked_too(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    body = b'{"title": "t", "x": ' + nested(100_000) + b"}"
    r = await client.post("/api/tasks", content=body, headers=user.headers)
    assert r.status_code == 400, r.text


async def test_an_escaped_backslash_before_u0000_is_no_nul(
    client: httpx.AsyncClient, user: TestUser
) -> None:
    r = await client.post(
        "/api/tasks",
        content=b'{"title": "C:\\\\u0000 1e400 NaN"}',
        headers={**user.headers, **JSON},
    )
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "C:\\u0000 1e400 NaN"


async def test_every_integer_a_client_sends_is_bounded_in_the_schema(
    client: httpx.AsyncClient,
) -> None:
    """Every integer of the published API's inputs is bounded: parameters (they reach Integer
    columns and comparisons) within PostgreSQL's integer, body fields within 64 bits (free-form
    JSON values live in JSON columns)."""
    spec = (await client.get("/openapi.json")).json()
    unbounded, integers = [], []

    def walk(schema: Any, where: str, low_limit: int, high_limit: int) -> None:
        if isinstance(schema, dict):
            if "$ref" in schema:
                name = schema["$ref"].rsplit("/", 1)[-1]
                if name not in seen:
                    seen.add(name)
                    walk(spec["components"]["schemas"][name], name, low_limit, high_limit)
            if schema.get("type") == "integer":
                integers.append(where)
                low, high = schema.get("minimum"), schema.get("maximum")
                if low is None or high is None or low < low_limit or high > high_limit:
                    unbounded.append(where)
            for key, value in schema.items():
                if key != "not":  # "a number that is not an integer" bounds no integer
                    walk(value, f"{where}.{key}", low_limit, high_limit)
        elif isinstance(schema, list):
            for item in schema:
                walk(item, where, low_limit, high_limit)

    for path, item in spec["paths"].items():
        for method, operation in item.items():
            seen: set[str] = set()
            for parameter in operation.get("parameters", []):
                where = f"{method} {path} {parameter['name']}"
                walk(parameter.get("schema"), where, -INT_MAX - 1, INT_MAX)
            for content in operation.get("requestBody", {}).get("content", {}).values():
                walk(content.get("schema"), f"{method} {path} body", -(2**63), 2**63)
    assert len(integers) >= 10  # limit, offset, top_k, max_tokens...
    assert not unbounded, unbounded
