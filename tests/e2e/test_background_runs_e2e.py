"""Background runs across real processes on one PostgreSQL: a client-side tool's output posted
to another replica after the first one stopped, and a signed completion webhook verified with
`standardwebhooks`. Prints the time a background run takes to start and the webhook latency."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from agent_testkit import FakeLLMServer
from tests.e2e.test_runs_e2e import login, service, service_env
from tests.webhook_receiver import webhook_receiver

pytestmark = pytest.mark.e2e

LOOKUP = {
    "type": "function",
    "name": "lookup_order",
    "description": "An order's status, from the client's own system.",
    "parameters": {
        "type": "object",
        "properties": {"order": {"type": "string"}},
        "required": ["order"],
    },
}


async def until_status(
    client: httpx.AsyncClient, headers: dict[str, str], run_id: str, *wanted: str
) -> dict[str, Any]:
    r = await client.get(f"/api/runs/{run_id}/wait?timeout_s=20", headers=headers)
    run: dict[str, Any] = r.json()
    assert run["status"] in wanted, run
    return run


async def test_a_client_tool_output_resumes_the_run_on_another_replica_after_a_restart(
    tmp_path: Path, isolated_database_url: str, fake_llm_server: FakeLLMServer
) -> None:
    if not isolated_database_url:
        pytest.skip("replicas share a PostgreSQL database (set TEST_DATABASE_URL)")
    env = {**service_env(tmp_path, isolated_database_url, fake_llm_server)}
    env["WEBHOOK_ALLOW_PRIVATE"] = "true"  # the receiver is on 127.0.0.1
    fake_llm_server.script(
        fake_llm_server.tool_call("lookup_order", order="A-17"),
        fake_llm_server.reply("Order A-17 ships tomorrow."),
    )
    async with webhook_receiver() as receiver:
        with service({**env, "DATA_DIR": str(tmp_path / "a")}, tmp_path / "a.log") as (a, _):
            headers = login(a, "byo@example.com")
            async with httpx.AsyncClient(base_url=a, timeout=30) as client:
                secret = (await client.post("/api/webhooks/secret", headers=headers)).json()
                body = {"name": "Orders", "instructions": "Answer about orders.", "tools": [LOOKUP]}
                assistant = (
                    await client.post("/api/assistants", json=body, headers=headers)
                ).json()
                asked = time.monotonic()
                r = await client.post(
                    "/api/runs",
                    json={
                        "assistant_id": assistant["id"],
                        "input": [{"role": "user", "content": "Where is order A-17?"}],
                        "webhook": receiver.url,
                    },
                    headers=headers,
                )
                answered_s = time.monotonic() - asked
                assert r.status_code == 202, r.text
                run_id = r.json()["id"]
                while not fake_llm_server.calls:  # the run's first model call
                    assert time.monotonic() - asked < 15, "the run did not start"
                    await asyncio.sleep(0.005)
                started_s = time.monotonic() - asked
                paused = await until_status(client, headers, run_id, "requires_action")
        # replica A is stopped; B has never seen this run
        [call] = paused["required_action"]["tool_calls"]
        with service({**env, "DATA_DIR": str(tmp_path / "b")}, tmp_path / "b.log") as (b, _):
            async with httpx.AsyncClient(base_url=b, timeout=30) as client:
                output = {
                    "tool_outputs": [{"tool_call_id": call["id"], "output": "ships tomorrow"}]
                }
                r = await client.post(
                    f"/api/runs/{run_id}/tool_outputs", json=output, headers=headers
                )
                assert r.status_code == 202, r.text
                done = await until_status(client, headers, run_id, "completed")
                (got,) = await receiver.wait_for(1, within_s=20)
                arrived = datetime.now().astimezone()
    assert done["output"] == "Order A-17 ships tomorrow."
    assert fake_llm_server.calls[1].request["messages"][-1]["content"] == "ships tomorrow"
    payload = Webhook(secret["secret"]).verify(got.body, got.headers)
    assert payload["type"] == "run.completed" and payload["data"]["id"] == run_id
    assert payload["data"]["output"] == "Order A-17 ships tomorrow."
    webhook_s = (arrived - datetime.fromisoformat(done["finished_at"])).total_seconds()
    print(
        f"\nbackground run: 202 in {answered_s * 1000:.0f} ms, first model call after "
        f"{started_s * 1000:.0f} ms; webhook {webhook_s * 1000:.0f} ms after the run ended"
    )
