"""The authorization matrix, built from the OpenAPI document so that a new route is in it at once.

Two users, A and B (neither an admin), each own one resource of every kind. For every operation
whose path names a resource, B's token on A's id is 404 (403 for another user's account, as the
design says), never 2xx; for every request field or query parameter that names a resource, B
sending A's id is refused the same way; every admin-only operation is 403 for B; no answer B gets
carries A's data; and afterwards every GET of A's reads back what it read before.
A path parameter the matrix does not know fails the test until it is added here, to RESOURCES or
NOT_A_RESOURCE, with its reason.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from agent_service.settings import Settings
from agent_testkit import FakeLLM
from tests.conftest import use_fake_llm, use_fast_jobs
from tests.factories import TestUser
from tests.integration.test_every_route_needs_a_token import PUBLIC

# Path and body parameters that name a resource owned by one user.
RESOURCES = {
    "user_id",
    "project_id",
    "task_id",
    "conversation_id",
    "run_id",
    "assistant_id",
    "schedule_id",
    "document_id",
}
# Path parameters that name nothing a user owns: the value used, and why.
NOT_A_RESOURCE = {
    "agent_type": ("assistant", "a built-in agent's name, the same for every user"),
    "page": ("1", "a page within the document its path's document_id names"),
}
# Each user sees and changes only its own account; another's is 403 `forbidden`.
FORBIDDEN_NOT_HIDDEN = {"user_id"}
ADMIN_ONLY = {
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/admin/users"),
    ("GET", "/api/integrations/github/deliveries"),
}
# A body that the operation accepts from the owner, so that only ownership can refuse it.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/api/users"): {"email": "b-made@example.com", "password": "b-made-pass-1"},
    ("PUT", "/api/users/{user_id}"): {"name": "taken over"},
    ("PATCH", "/api/tasks/{task_id}"): {"title": "taken over"},
    ("POST", "/api/tasks"): {"title": "B's task"},
    ("POST", "/api/agent/chat"): {"message": "hello"},
    ("POST", "/api/agent/chat/stream"): {"message": "hello"},
    ("POST", "/api/agents/{agent_type}/chat"): {"messages": [{"role": "user", "content": "hi"}]},
    ("POST", "/api/agents/{agent_type}/chat/stream"): {
        "messages": [{"role": "user", "content": "hi"}]
    },
    ("POST", "/api/runs"): {
        "assistant_id": "assistant",
        "input": [{"role": "user", "content": "hi"}],
    },
    ("POST", "/api/runs/{run_id}/tool_outputs"): {
        "tool_outputs": [{"tool_call_id": "call_1", "output": "42"}]
    },
    ("POST", "/api/runs/{run_id}/resume"): {
        "decisions": [{"tool_call_id": "call_1", "approve": True}]
    },
    ("PATCH", "/api/assistants/{assistant_id}"): {"name": "taken over"},
    ("POST", "/api/assistants/{assistant_id}/schedules"): {
        "cron": "0 0 1 1 *",
        "input": [{"role": "user", "content": "hi"}],
    },
    ("POST", "/api/documents/{document_id}/ask"): {"question": "What is in it?"},
}
SECRET = "alpha-private-marker"  # in A's names and messages; never in an answer to B
METHODS = {"get", "post", "put", "patch", "delete"}


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    settings = use_fast_jobs(use_fake_llm(settings, fake_llm.base_url))
    settings.run_poll_s = 0.2
    return settings


@dataclass
class Matrix:
    """The requests sent (counted) and what went wrong, collected rather than stopping at one."""

    client: httpx.AsyncClient
    sent: int = 0
    wrong: list[str] = field(default_factory=list)

    async def send(
        self, method: str, path: str, user: TestUser, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        self.sent += 1
        return await self.client.request(method, path, json=body, headers=user.headers)

    def expect_refused(
        self, r: httpx.Response, what: str, name: str, sent: str, a_ids: dict[str, str]
    ) -> None:
        """404 `<kind>_not_found` (403 `forbidden` for an account), and none of A's data."""
        status, code = (403, "forbidden") if name in FORBIDDEN_NOT_HIDDEN else (404, "_not_found")
        is_json = r.headers.get("content-type", "").startswith("application/json")
        error = str(r.json().get("error", "")) if is_json else ""
        if r.status_code != status or not error.endswith(code) or leaked(r, sent, a_ids):
            self.wrong.append(f"{what}: {r.status_code} {r.text[:150]}")


def operations(schema: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in schema["paths"].items()
        for method, operation in item.items()
        if method in METHODS and (method.upper(), path) not in PUBLIC
    ]


def path_parameters(path: str) -> list[str]:
    return re.findall(r"\{([^}]+)\}", path)


def fill(path: str, ids: dict[str, str]) -> str:
    values = {**{name: value for name, (value, _) in NOT_A_RESOURCE.items()}, **ids}
    return re.sub(r"\{([^}]+)\}", lambda m: values[m.group(1)], path)


def body_fields(schema: dict[str, Any], operation: dict[str, Any]) -> set[str]:
    """The top-level JSON body fields of an operation."""
    content = operation.get("requestBody", {}).get("content", {}).get("application/json")
    if not content:
        return set()
    body = content["schema"]
    refs = [body.get("$ref")] + [part.get("$ref") for part in body.get("anyOf", [])]
    names: set[str] = set()
    for ref in filter(None, refs):
        names |= set(schema["components"]["schemas"][ref.rsplit("/", 1)[1]]["properties"])
    return names


async def own_everything(client: httpx.AsyncClient, user: TestUser, tag: str) -> dict[str, str]:
    """One resource of every kind, made through the API; their ids by parameter name."""

    async def made(path: str, status: int = 201, **kwargs: Any) -> dict[str, Any]:
        r = await client.post(path, headers=user.headers, **kwargs)
        assert r.status_code == status, r.text
        return dict(r.json())

    project = await made("/api/projects", json={"name": f"{tag} project"})
    task = await made("/api/tasks", json={"title": f"{tag} task", "project_id": project["id"]})
    assistant = await made("/api/assistants", json={"name": f"{tag} assistant"})
    schedule = await made(
        f"/api/assistants/{assistant['id']}/schedules",
        json={"cron": "0 0 1 1 *", "input": [{"role": "user", "content": f"{tag} daily"}]},
    )
    chat = await made("/api/agent/chat", 200, json={"message": f"{tag} hello"})
    document = await made(
        "/api/documents", 202, files={"file": ("notes.txt", f"{tag} notes\n" * 50, "text/plain")}
    )
    await made("/api/webhooks/secret")
    deadline = time.monotonic() + 30
    while (await client.get(f"/api/documents/{document['id']}", headers=user.headers)).json()[
        "status"
    ] == "processing":
        assert time.monotonic() < deadline, "the document was not processed in 30 s"
        await asyncio.sleep(0.02)
    return {
        "user_id": str(user.id),
        "project_id": project["id"],
        "task_id": task["id"],
        "assistant_id": assistant["id"],
        "schedule_id": schedule["id"],
        "conversation_id": chat["conversation_id"],
        "run_id": chat["run_id"],
        "document_id": document["id"],
    }


async def read_back(
    client: httpx.AsyncClient, schema: dict[str, Any], user: TestUser, ids: dict[str, str]
) -> dict[str, tuple[int, str]]:
    """Every GET the user may make, with its own ids: what the user's resources look like."""
    seen = {}
    for method, path, _ in operations(schema):
        if method == "GET" and (method, path) not in ADMIN_ONLY:
            r = await client.get(fill(path, ids), headers=user.headers)
            assert r.status_code == 200, f"{path}: {r.status_code} {r.text[:200]}"
            seen[path] = (r.status_code, r.text)
    return seen


def leaked(response: httpx.Response, sent: str, a_ids: dict[str, str]) -> list[str]:
    """A's data in an answer to B, other than the ids B itself sent (a 404 may quote them)."""
    text = response.text
    found = [SECRET] if SECRET in text else []
    return found + [name for name, value in a_ids.items() if value in text and value not in sent]


async def test_another_users_resources_are_404_and_untouched(
    client: httpx.AsyncClient, make_user: Any, fake_llm: FakeLLM
) -> None:
    a, b = await make_user(), await make_user()
    fake_llm.script(fake_llm.reply(f"{SECRET} answer"), fake_llm.reply("B's answer"))
    a_ids = await own_everything(client, a, SECRET)
    b_ids = await own_everything(client, b, "bravo")
    schema = (await client.get("/openapi.json")).json()
    before = await read_back(client, schema, a, a_ids)
    matrix = Matrix(client)

    unconsidered = [
        f"{method} {path}: {{{name}}}"
        for method, path, _ in operations(schema)
        for name in path_parameters(path)
        if name not in RESOURCES and name not in NOT_A_RESOURCE
    ]
    assert unconsidered == [], "path parameters the matrix does not know: add them"

    for method, path, operation in operations(schema):
        body = BODIES.get((method, path), {} if "requestBody" in operation else None)
        named = [name for name in path_parameters(path) if name in RESOURCES]
        if (method, path) in ADMIN_ONLY:
            r = await matrix.send(method, fill(path, b_ids), b, body)
            if r.status_code != 403 or r.json()["error"] != "admin_required":
                matrix.wrong.append(f"{method} {path} (admin only): {r.status_code} {r.text[:150]}")
            continue
        # the path names A's resources (each in turn, the others B's own)
        for name in named:
            url = fill(path, {**b_ids, name: a_ids[name]})
            r = await matrix.send(method, url, b, body)
            matrix.expect_refused(r, f"{method} {path} with A's {name}", name, url, a_ids)
        # a body field names A's resource, the path only B's own
        for name in sorted(body_fields(schema, operation) & RESOURCES):
            sent = {**(body or {}), name: a_ids[name]}
            r = await matrix.send(method, fill(path, b_ids), b, sent)
            what = f"{method} {path} with A's {name} in the body"
            matrix.expect_refused(r, what, name, json.dumps(sent), a_ids)
        # a query parameter names A's resource: refused, or an answer without A's data
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] in RESOURCES:
                url = f"{fill(path, b_ids)}?{parameter['name']}={a_ids[parameter['name']]}"
                r = await matrix.send(method, url, b, body)
                if not (r.status_code == 404 or (r.is_success and not leaked(r, "", a_ids))):
                    matrix.wrong.append(f"{method} {url}: {r.status_code} {r.text[:150]}")
        # B's own lists and reads: nothing of A's in them
        if method == "GET":
            r = await matrix.send(method, fill(path, b_ids), b)
            if found := leaked(r, "", a_ids):
                matrix.wrong.append(f"GET {path} as B shows A's {found}")
            if r.status_code == 403:
                matrix.wrong.append(f"GET {path} is 403 for B's own: add it to ADMIN_ONLY?")

    print(
        f"\nauthorization matrix: {matrix.sent} requests as B and {2 * len(before)} reads as A"
        f" over {len(operations(schema))} operations"
    )
    assert matrix.wrong == [], "\n".join(matrix.wrong)
    assert await read_back(client, schema, a, a_ids) == before
