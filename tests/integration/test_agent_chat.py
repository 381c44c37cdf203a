"""Chat with the agents through HTTP, the LLM faked at its HTTP boundary: the seed patterns."""

from __future__ import annotations

import json

import httpx
import pytest

from agent_service.agents.registry import ASSISTANT, CODER
from agent_service.settings import Settings
from agent_testkit import FakeLLM, RecordedCall
from tests.conftest import use_fake_llm
from tests.factories import TestUser

pytestmark = pytest.mark.usefixtures("llm_waits")


@pytest.fixture
def settings(settings: Settings, fake_llm: FakeLLM) -> Settings:
    return use_fake_llm(settings, fake_llm.base_url)


async def chat(client: httpx.AsyncClient, user: TestUser, message: str, **extra: object) -> dict:
    r = await client.post(
        "/api/agent/chat", json={"message": message, **extra}, headers=user.headers
    )
    assert r.status_code == 200, r.text
    return r.json()


async def tasks_of(client: httpx.AsyncClient, user: TestUser) -> list[dict]:
    r = await client.get("/api/tasks", headers=user.headers)
    return r.json()


async def test_tool_call_then_answer_persists_the_task(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("create_task", title="Write tests", priority="high"),
        fake_llm.reply("I created the task 'Write tests'."),
    )
    reply = await chat(client, user, "Add a high-priority task to write tests")

    assert reply["response"] == "I created the task 'Write tests'."
    [task] = await tasks_of(client, user)
    assert (task["title"], task["priority"], task["status"]) == ("Write tests", "high", "pending")
    [call] = reply["tool_calls"]
    assert call["name"] == "create_task" and call["is_error"] is False
    assert call["arguments"] == {"title": "Write tests", "priority": "high"}
    assert call["result"]["task"]["id"] == task["id"]
    assert reply["usage"]["total_tokens"] > 0
    assert reply["usage"]["total_tokens"] == (
        reply["usage"]["prompt_tokens"] + reply["usage"]["completion_tokens"]
    )

    sent = fake_llm.calls[1]
    assert json.loads(sent.tool_result("create_task"))["task"]["id"] == task["id"]
    assert sent.messages[-2]["tool_calls"][0]["function"]["name"] == "create_task"


async def test_prompt_carries_system_prompt_tools_and_history(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("Hello!"), fake_llm.reply("Still here."))
    first = await chat(client, user, "Hi")
    await chat(client, user, "Are you there?")

    call = fake_llm.calls[1]
    assert call.system_prompt == ASSISTANT.system_prompt
    assert call.model == "fake-model"
    assert sorted(call.tool_names) == [
        "create_project",
        "create_task",
        "delete_project",
        "delete_task",
        "list_projects",
        "list_tasks",
        "update_task",
    ]
    assert [(m["role"], m["content"]) for m in call.messages[1:]] == [
        ("user", "Hi"),
        ("assistant", "Hello!"),
        ("user", "Are you there?"),
    ]
    assert fake_llm.calls[0].messages[1:] == [{"role": "user", "content": "Hi"}]
    assert first["conversation_id"] == (await chat_ids(client, user))[0]


async def chat_ids(client: httpx.AsyncClient, user: TestUser) -> list[str]:
    r = await client.get("/api/conversations", headers=user.headers)
    return [c["id"] for c in r.json()]


async def test_clarification_over_two_requests_in_one_conversation(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.reply("Sure. What should the task be called, and how urgent is it?"),
        fake_llm.tool_call("create_task", title="Book flights", priority="low"),
        fake_llm.reply("Done: 'Book flights', low priority."),
    )
    first = await chat(client, user, "Add a task for me")
    assert "called" in first["response"] and first["tool_calls"] == []
    assert await tasks_of(client, user) == []

    second = await chat(
        client, user, "Book flights, not urgent", conversation_id=first["conversation_id"]
    )
    assert second["conversation_id"] == first["conversation_id"]
    assert second["response"] == "Done: 'Book flights', low priority."
    [task] = await tasks_of(client, user)
    assert task["title"] == "Book flights"

    roles = [m["role"] for m in fake_llm.calls[2].messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "tool"]
    assert fake_llm.calls[1].last_user_message == "Book flights, not urgent"


async def test_project_then_three_parallel_tasks(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    def three_tasks(call: RecordedCall):  # the project id is known once the first tool ran
        project_id = call.tool_result_json("create_project")["project"]["id"]
        return fake_llm.tool_calls(
            [
                ("create_task", {"title": title, "project_id": project_id})
                for title in ("Design", "Build", "Launch")
            ]
        )

    fake_llm.script(
        fake_llm.tool_call("create_project", name="Website"),
        fake_llm.respond(three_tasks),
        fake_llm.reply("Project 'Website' has three tasks."),
    )
    reply = await chat(client, user, "Set up a website project with design, build, launch")

    assert [c["name"] for c in reply["tool_calls"]] == ["create_project"] + ["create_task"] * 3
    r = await client.get("/api/projects", headers=user.headers)
    [project] = r.json()
    r = await client.get(f"/api/projects/{project['id']}", headers=user.headers)
    assert [t["title"] for t in r.json()["tasks"]] == ["Design", "Build", "Launch"]

    # The results go back in the order of the calls, each answering its own call id.
    last = fake_llm.calls[2].messages
    asked = [c["id"] for c in last[-4]["tool_calls"]]
    answered = [m["tool_call_id"] for m in last[-3:]]
    assert asked == answered and len(set(asked)) == 3
    assert [json.loads(m["content"])["task"]["title"] for m in last[-3:]] == [
        "Design",
        "Build",
        "Launch",
    ]


async def test_create_project_with_default_tasks_in_one_call(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call(
            "create_project", name="Move", tasks=[{"title": "Pack"}, {"title": "Unpack"}]
        ),
        fake_llm.reply("Created."),
    )
    reply = await chat(client, user, "Project for my move with pack and unpack")
    result = reply["tool_calls"][0]["result"]
    assert [t["title"] for t in result["tasks"]] == ["Pack", "Unpack"]
    assert {t["project_id"] for t in result["tasks"]} == {result["project"]["id"]}


async def test_update_and_list_tasks_through_tools(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    r = await client.post("/api/tasks", json={"title": "Pay rent"}, headers=user.headers)
    task_id = r.json()["id"]
    fake_llm.script(
        fake_llm.tool_call("list_tasks", status="pending"),
        fake_llm.tool_call("update_task", task_id=task_id, status="done", title=None),
        fake_llm.reply("Marked 'Pay rent' as done."),
    )
    await chat(client, user, "I paid the rent")

    listed = json.loads(fake_llm.calls[1].tool_result("list_tasks"))
    assert [t["id"] for t in listed["tasks"]] == [task_id] and listed["total"] == 1
    r = await client.get(f"/api/tasks/{task_id}", headers=user.headers)
    assert (r.json()["status"], r.json()["title"]) == ("done", "Pay rent")


async def test_invalid_tool_arguments_go_back_to_the_model(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("create_task", unchecked=True, title="", priority="urgent"),
        fake_llm.tool_calls([("create_task", '{"title": "unterminated')]),
        fake_llm.reply("Sorry, I could not create that task."),
    )
    reply = await chat(client, user, "Add a task")

    assert reply["response"] == "Sorry, I could not create that task."
    assert await tasks_of(client, user) == []
    first, second = reply["tool_calls"]
    assert first["is_error"] and first["result"]["error"] == "invalid_arguments"
    assert {e["field"] for e in first["result"]["errors"]} == {"title", "priority"}
    assert second["is_error"] and "not valid JSON" in second["result"]["detail"]
    assert second["arguments"] == '{"title": "unterminated'
    sent = json.loads(fake_llm.calls[1].tool_result("create_task"))
    assert sent["error"] == "invalid_arguments"


async def test_unknown_tool_goes_back_to_the_model(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("delete_everything", unchecked=True, confirm=True),
        fake_llm.reply("I cannot do that."),
    )
    reply = await chat(client, user, "Delete everything")
    assert reply["response"] == "I cannot do that."
    result = json.loads(fake_llm.calls[1].tool_result("delete_everything"))
    assert result["error"] == "unknown_tool"
    assert "create_task" in result["detail"]


async def test_domain_error_in_a_tool_goes_back_to_the_model(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(
        fake_llm.tool_call("update_task", task_id="no-such-task", status="done"),
        fake_llm.reply("That task does not exist."),
    )
    reply = await chat(client, user, "Finish task no-such-task")
    [call] = reply["tool_calls"]
    assert call["is_error"] and call["result"]["error"] == "task_not_found"


async def test_step_limit_is_502_and_keeps_what_tools_did(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM, settings: Settings
) -> None:
    settings.agent_max_steps = 2
    fake_llm.script(
        fake_llm.tool_call("create_task", title="first"),
        fake_llm.tool_call("create_task", title="second"),
    )
    r = await client.post("/api/agent/chat", json={"message": "loop"}, headers=user.headers)
    assert r.status_code == 502
    assert r.json()["error"] == "agent_step_limit"
    assert "AGENT_MAX_STEPS" in r.json()["detail"]
    assert [t["title"] for t in await tasks_of(client, user)] == ["first"]

    # The conversation continues; the unanswered second call was never stored.
    fake_llm.script(fake_llm.reply("OK."))
    await chat(client, user, "stop")
    roles = [m["role"] for m in fake_llm.calls[2].messages]
    assert roles == ["system", "user", "assistant", "tool", "user"]


async def test_tools_cannot_reach_another_users_tasks(
    client: httpx.AsyncClient, user: TestUser, other_user: TestUser, fake_llm: FakeLLM
) -> None:
    r = await client.post("/api/tasks", json={"title": "private"}, headers=other_user.headers)
    theirs = r.json()["id"]
    r = await client.post("/api/projects", json={"name": "theirs"}, headers=other_user.headers)
    their_project = r.json()["id"]
    fake_llm.script(
        fake_llm.tool_calls(
            [
                ("update_task", {"task_id": theirs, "status": "done"}),
                ("list_tasks", {}),
                ("create_task", {"title": "sneaky", "project_id": their_project}),
            ]
        ),
        fake_llm.reply("Nothing to see."),
    )
    reply = await chat(client, user, "Mark every task done")

    update, listing, create = reply["tool_calls"]
    assert update["is_error"] and update["result"]["error"] == "task_not_found"
    assert listing["result"] == {"tasks": [], "total": 0}
    assert create["is_error"] and create["result"]["error"] == "project_not_found"
    r = await client.get(f"/api/tasks/{theirs}", headers=other_user.headers)
    assert r.json()["status"] == "pending"
    assert await tasks_of(client, user) == []


async def test_no_id_continues_the_latest_conversation_of_that_agent_type(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(*(fake_llm.reply(f"answer {i}") for i in range(4)))
    a = await chat(client, user, "one")
    b = await chat(client, user, "two")
    c = await chat(client, user, "to the coder", agent_type="coder")
    d = await chat(client, user, "three", agent_type="assistant")
    assert a["conversation_id"] == b["conversation_id"] == d["conversation_id"]
    assert c["conversation_id"] != a["conversation_id"]
    assert fake_llm.calls[2].system_prompt == CODER.system_prompt
    assert [t["function"]["name"] for t in fake_llm.calls[2].tools] == [
        "get_issue",
        "get_pull_request_diff",
    ]


async def test_agents_route_takes_messages_and_session_id(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("First."), fake_llm.reply("Second."))
    r = await client.post(
        "/api/agents/researcher/chat",
        json={"messages": [{"role": "user", "content": "What is SSE?"}]},
        headers=user.headers,
    )
    assert r.status_code == 200, r.text
    conversation_id = r.json()["conversation_id"]
    r = await client.post(
        "/api/agents/researcher/chat",
        json={
            "messages": [
                {"role": "assistant", "content": "Context: the user reads the HTML spec."},
                {"role": "user", "content": "And how does it reconnect?"},
            ],
            "session_id": conversation_id,
        },
        headers=user.headers,
    )
    assert r.status_code == 200 and r.json()["conversation_id"] == conversation_id
    assert [m["role"] for m in fake_llm.calls[1].messages] == [
        "system",
        "user",
        "assistant",
        "assistant",
        "user",
    ]


async def test_a_conversation_stays_with_its_agent_type(
    client: httpx.AsyncClient, user: TestUser, fake_llm: FakeLLM
) -> None:
    fake_llm.script(fake_llm.reply("hi"))
    first = await chat(client, user, "hello")
    r = await client.post(
        "/api/agents/coder/chat",
        json={
            "messages": [{"role": "user", "content": "x"}],
            "conversation_id": first["conversation_id"],
        },
        headers=user.headers,
    )
    assert r.status_code == 400 and r.json()["error"] == "agent_type_mismatch"


async def test_list_agents(client: httpx.AsyncClient, user: TestUser) -> None:
    r = await client.get("/api/agents", headers=user.headers)
    assert r.status_code == 200
    agents = {a["agent_type"]: a for a in r.json()["items"]}
    assert set(agents) == {"assistant", "researcher", "coder"}
    tools = {t["name"]: t for t in agents["assistant"]["tools"]}
    assert set(tools) == {
        "create_task",
        "update_task",
        "list_tasks",
        "create_project",
        "list_projects",
        "delete_task",
        "delete_project",
    }
    schema = tools["create_task"]["parameters"]
    assert schema["required"] == ["title"]
    assert schema["properties"]["priority"]["enum"] == ["low", "medium", "high"]
    assert "$ref" not in json.dumps(schema)
    assert [t["name"] for t in agents["coder"]["tools"]] == ["get_issue", "get_pull_request_diff"]
    assert [t["name"] for t in agents["researcher"]["tools"]] == [
        "search_documents",
        "read_document_chunk",
    ]
    assert (await client.get("/api/agents")).status_code == 401
