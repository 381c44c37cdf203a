"""The demo model reads the ways people ask, typos included: each phrasing is walked through its
tool calls against a small workspace (tasks and projects kept in a dict, as the real tools would
answer), and the workspace afterwards is what the person meant."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from agent_service.demo.rules import Say, ToolRequest, decide
from agent_service.demo.words import corrected, edit_distance

TOOLS = [
    "create_task",
    "update_task",
    "list_tasks",
    "create_project",
    "list_projects",
    "delete_task",
    "delete_project",
]


class Workspace:
    """What the assistant's tools would do, for a test: tasks and projects in memory."""

    def __init__(self) -> None:
        self.ids = (f"id-{n}" for n in itertools.count())
        self.tasks: list[dict[str, Any]] = []
        self.projects: list[dict[str, Any]] = [{"id": "p-launch", "name": "Launch"}]
        for title in ("Design", "Write the report", "Buy milk"):
            self.add(title)

    def add(self, title: str, priority: str = "medium") -> dict[str, Any]:
        task = {
            "id": next(self.ids),
            "title": title,
            "priority": priority,
            "status": "pending",
            "project_id": None,
        }
        self.tasks.append(task)
        return task

    def task(self, title: str) -> dict[str, Any]:
        [found] = [t for t in self.tasks if t["title"] == title]
        return found

    def call(self, name: str, args: dict[str, Any]) -> dict[str, Any]:
        if name == "create_task":
            return {"task": self.add(args["title"], args.get("priority", "medium"))}
        if name == "list_tasks":
            return {"tasks": list(self.tasks), "total": len(self.tasks)}
        if name == "list_projects":
            return {"projects": list(self.projects), "total": len(self.projects)}
        if name == "update_task":
            [task] = [t for t in self.tasks if t["id"] == args["task_id"]]
            task.update({k: v for k, v in args.items() if k != "task_id"})
            return {"task": task}
        if name == "delete_task":
            task = next(t for t in self.tasks if t["id"] == args["task_id"])
            self.tasks.remove(task)
            return {"deleted": {"task_id": task["id"], "title": task["title"]}}
        if name == "create_project":
            project = {"id": next(self.ids), "name": args["name"]}
            self.projects.append(project)
            return {"project": project, "tasks": [self.add(t["title"]) for t in args["tasks"]]}
        raise AssertionError(f"unexpected tool {name}")

    def chat(self, text: str) -> tuple[str, list[str]]:
        """Walk one turn to its answer: the answer's text and the tools called."""
        messages: list[dict[str, Any]] = [{"role": "user", "content": text}]
        tools = [{"type": "function", "function": {"name": name}} for name in TOOLS]
        called: list[str] = []
        for step in range(6):
            answer = decide({"messages": messages, "tools": tools})
            if isinstance(answer, Say):
                return answer.text, called
            assert isinstance(answer, ToolRequest)
            calls = [
                {"id": f"c{step}{i}", "function": {"name": n, "arguments": json.dumps(a)}}
                for i, (n, a) in enumerate(answer.calls)
            ]
            messages.append({"role": "assistant", "tool_calls": calls})
            for call, (name, args) in zip(calls, answer.calls, strict=True):
                called.append(name)
                result = json.dumps(self.call(name, args))
                messages.append({"role": "tool", "tool_call_id": call["id"], "content": result})
        raise AssertionError(f"{text!r} did not end in an answer")


def titles(workspace: Workspace) -> list[str]:
    return [t["title"] for t in workspace.tasks]


RENAMES = [
    ("rename design to design mockups", "Design", "Design mockups"),
    ("Rename the task design to Design mockups", "Design", "Design mockups"),
    ("renmae design to design mockups", "Design", "Design mockups"),
    ("rename 'Write the report' to 'Write the summary'", "Write the report", "Write the summary"),
    ("change the title of buy milk to buy oat milk", "Buy milk", "Buy oat milk"),
    (
        "change the name of the report task to Send the report",
        "Write the report",
        "Send the report",
    ),
    ("retitle buy milk as Buy bread", "Buy milk", "Buy bread"),
    ("rename wirte the reprot to Finish the report", "Write the report", "Finish the report"),
    ("rename the design task as Visual design", "Design", "Visual design"),
]


@pytest.mark.parametrize(("said", "old", "new"), RENAMES)
def test_rename(said: str, old: str, new: str) -> None:
    workspace = Workspace()
    task_id = workspace.task(old)["id"]
    answer, called = workspace.chat(said)
    assert called[-1] == "update_task", answer
    assert workspace.task(new)["id"] == task_id
    assert new in answer


PRIORITIES = [
    ("set the report to high priority", "Write the report", "high"),
    ("set design to low priority", "Design", "low"),
    ("make buy milk urgent", "Buy milk", "high"),
    ("make design high priority", "Design", "high"),
    ("change the priority of buy milk to low", "Buy milk", "low"),
    ("mark the report as high-priority", "Write the report", "high"),
    ("set the report to hihg priority", "Write the report", "high"),
    ("stet design to low prioirty", "Design", "low"),
    ("raise the priority of design to high", "Design", "high"),
    ("give buy milk a low priority", "Buy milk", "low"),
]


@pytest.mark.parametrize(("said", "title", "priority"), PRIORITIES)
def test_set_priority(said: str, title: str, priority: str) -> None:
    workspace = Workspace()
    answer, called = workspace.chat(said)
    assert called[-1] == "update_task", answer
    assert workspace.task(title)["priority"] == priority
    assert [t["priority"] for t in workspace.tasks].count(priority) == 1 + (priority == "medium")


MOVES = [
    ("move the report to project Launch", "Write the report"),
    ("move design to the Launch project", "Design"),
    ("put buy milk in project launch", "Buy milk"),
    ("file design under project Launch", "Design"),
    ("mvoe the reprot to project Lanuch", "Write the report"),
]


@pytest.mark.parametrize(("said", "title"), MOVES)
def test_move_to_a_project(said: str, title: str) -> None:
    workspace = Workspace()
    answer, called = workspace.chat(said)
    assert called[-2:] == ["list_projects", "update_task"], answer
    assert workspace.task(title)["project_id"] == "p-launch"
    assert "Launch" in answer


def test_moving_to_a_project_that_is_not_there_names_the_ones_that_are() -> None:
    workspace = Workspace()
    answer, called = workspace.chat("move design to project Website")
    assert "update_task" not in called
    assert "no project matching 'Website'" in answer and "'Launch'" in answer


ADDS = [
    ("ad a taks to by milk", ["By milk"]),
    ("add a task to water the plants", ["Water the plants"]),
    ("Add a high-priority task to call the bank", ["Call the bank"]),
    ("remind me to book the train", ["Book the train"]),
    ("creat a tsak to pay rent", ["Pay rent"]),
    ("add a task to shovel snow", ["Shovel snow"]),
    ("add tasks: wash the car, feed the cat", ["Wash the car", "Feed the cat"]),
]


@pytest.mark.parametrize(("said", "added"), ADDS)
def test_add(said: str, added: list[str]) -> None:
    workspace = Workspace()
    answer, called = workspace.chat(said)
    assert called == ["create_task"] * len(added), answer
    assert titles(workspace)[3:] == added


STATUS = [
    ("mark design as done", "Design", "done"),
    ("mark wirte the report as done", "Write the report", "done"),
    ("compelte buy milk", "Buy milk", "done"),
    ("start working on design", "Design", "in_progress"),
]


@pytest.mark.parametrize(("said", "title", "status"), STATUS)
def test_status(said: str, title: str, status: str) -> None:
    workspace = Workspace()
    workspace.chat(said)
    assert workspace.task(title)["status"] == status


def test_a_task_it_cannot_find_is_named_with_the_ones_there_are() -> None:
    workspace = Workspace()
    answer, _ = workspace.chat("rename the garden to the big garden")
    assert "no task matching 'Garden'" in answer and "'Design'" in answer
    assert titles(workspace) == ["Design", "Write the report", "Buy milk"]


def test_lsit_my_tasks_lists_them() -> None:
    answer, called = Workspace().chat("lsit my tasks")
    assert called == ["list_tasks"] and "Write the report" in answer


def test_typos_are_fixed_only_where_the_rules_read() -> None:
    assert edit_distance("taks", "task") == 1 and edit_distance("design", "desing") == 1
    assert corrected("ad a taks to by milk") == "add a task to by milk"
    assert corrected("add a task to shovel snow") == "add a task to shovel snow"  # not 'show'
    assert corrected('add "Taks list" now') == 'add "Taks list" now'  # quoted stays as written
