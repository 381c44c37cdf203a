"""A case's users and its starting data, made through the service's own HTTP API, as a person would:
register and log in, create projects and tasks, upload documents and wait for them to be ready.

    setup:
      projects: [Kitchen renovation, {name: Launch, description: Q3 launch}]
      tasks: [{title: Buy tiles, priority: high, project: Kitchen renovation}, Call the plumber]
      documents: [{file: tests/fixtures/pdf/pdflatex-4-pages.pdf}, {name: notes.md, text: "# Notes ..."}]
      other_user: {tasks: [{title: Payroll run}], documents: [...]}   # someone else's data

Every id made becomes a variable for scripts and expectations: `task:<title>`, `project:<name>`,
`document:<file name>`, and `other.task:<title>` ... for the other user's.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

SETUP_KEYS = {"projects", "tasks", "documents", "other_user"}
DOCUMENT_TIMEOUT_S = 30.0


class SetupError(Exception):
    """The case's data could not be made; the message says which item and what the API answered."""


@dataclass
class EvalUser:
    email: str
    password: str
    headers: dict[str, str] = field(default_factory=dict)


async def register_user(client: httpx.AsyncClient, label: str) -> EvalUser:
    """A new account, registered and logged in through the API."""
    user = EvalUser(f"{label}-{uuid.uuid4().hex[:12]}@example.com", f"pw-{uuid.uuid4().hex}")
    r = await client.post(
        "/api/auth/register",
        json={"email": user.email, "password": user.password, "name": label.title()},
    )
    _expect(r, 201, f"registering {label}")
    r = await client.post("/api/auth/login", json={"email": user.email, "password": user.password})
    _expect(r, 200, f"logging in {label}")
    user.headers = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return user


def check_setup(setup: Mapping[str, Any], where: str) -> None:
    unknown = set(setup) - SETUP_KEYS
    if unknown:
        raise SetupError(
            f"{where}: unknown setup key(s) {sorted(unknown)}; known: {sorted(SETUP_KEYS)}"
        )


async def apply_setup(
    client: httpx.AsyncClient,
    user: EvalUser,
    setup: Mapping[str, Any],
    *,
    root: Path,
    prefix: str = "",
) -> dict[str, str]:
    """Create what `setup` lists for `user`; the variables naming what was made."""
    check_setup(setup, "setup")
    variables = {f"{prefix}email": user.email}
    for entry in setup.get("projects") or []:
        spec = {"name": entry} if isinstance(entry, str) else dict(entry)
        r = await client.post("/api/projects", json=spec, headers=user.headers)
        _expect(r, 201, f"creating the project {spec.get('name')!r}")
        variables[f"{prefix}project:{spec['name']}"] = r.json()["id"]
    for entry in setup.get("tasks") or []:
        spec = {"title": entry} if isinstance(entry, str) else dict(entry)
        project = spec.pop("project", None)
        if project is not None:
            spec["project_id"] = variables[f"{prefix}project:{project}"]
        r = await client.post("/api/tasks", json=spec, headers=user.headers)
        _expect(r, 201, f"creating the task {spec.get('title')!r}")
        variables[f"{prefix}task:{spec['title']}"] = r.json()["id"]
    for entry in setup.get("documents") or []:
        name, document_id = await upload_document(client, user, entry, root=root)
        variables[f"{prefix}document:{name}"] = document_id
    return variables


async def upload_document(
    client: httpx.AsyncClient, user: EvalUser, entry: Mapping[str, Any], *, root: Path
) -> tuple[str, str]:
    """Upload one document (`file: path` or `name` + `text`) and wait until it is ready."""
    if "file" in entry:
        path = root / str(entry["file"])
        name, content = str(entry.get("name") or path.name), path.read_bytes()
    elif "text" in entry and "name" in entry:
        name, content = str(entry["name"]), str(entry["text"]).encode()
    else:
        raise SetupError(f"a document needs `file`, or `name` and `text`: {dict(entry)!r}")
    files = {"file": (name, content, "application/octet-stream")}
    r = await client.post("/api/documents", files=files, headers=user.headers)
    _expect(r, 202, f"uploading {name!r}")
    document_id = str(r.json()["id"])
    deadline = time.monotonic() + DOCUMENT_TIMEOUT_S
    while True:
        r = await client.get(f"/api/documents/{document_id}", headers=user.headers)
        _expect(r, 200, f"reading the document {name!r}")
        status = r.json()["status"]
        if status == "ready":
            return name, document_id
        if status == "failed" or time.monotonic() > deadline:
            raise SetupError(f"the document {name!r} is {status}: {r.json().get('error')}")
        await asyncio.sleep(0.02)


def _expect(response: httpx.Response, status: int, doing: str) -> None:
    if response.status_code != status:
        raise SetupError(f"{doing} answered {response.status_code}: {response.text[:300]}")
