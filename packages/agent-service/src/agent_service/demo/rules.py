"""What the demo model answers to one chat completion request: deterministic rules, no network.

`decide(request)` reads the request as a model would (the agent's tools, the user's last message,
the tool results since then) and answers a tool call or a text. Each agent type has its own rules;
anything they do not understand gets a reply saying what was understood and what works.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from agent_service.demo import triage
from agent_service.demo.turn import Step, Turn
from agent_service.demo.words import (
    after,
    best_sentence,
    clean_title,
    corrected,
    fuzzy_overlap,
    overlap,
    priority_in,
    quoted,
    split_items,
)


@dataclass(frozen=True)
class Say:
    """A text answer (finish_reason "stop")."""

    text: str


@dataclass(frozen=True)
class ToolRequest:
    """One or more tool calls, as `(name, arguments)` pairs."""

    calls: tuple[tuple[str, dict[str, Any]], ...]
    text: str | None = field(default=None)


Answer = Say | ToolRequest

ASSISTANT_HELP = (
    "I'm the offline demo model: I follow simple rules, so phrase it like one of these:\n"
    '- add a task: "add a high-priority task to write the report"\n'
    '- list tasks: "list my tasks" (or "show my done tasks")\n'
    '- complete one: "mark write the report as done"\n'
    '- edit one: "rename write the report to write the summary", "set the report to high '
    'priority", "move the report to project Launch"\n'
    '- make a project: "create a project Launch with tasks design, build and ship"\n'
    '- delete one (after your approval): "delete the task write the report"\n'
    "For questions about an uploaded document, chat with the researcher agent."
)
RESEARCHER_HELP = (
    "I'm the offline demo model. Upload a document (PDF, text, Markdown or DOCX) in Documents, wait "
    "until it is ready, then ask me a question about it: I search your documents and quote the "
    "passage that answers, with its page."
)
CODER_HELP = (
    "I'm the offline demo model. Ask me to read a GitHub issue or pull request, e.g. "
    '"show issue octo/hello#12" or "review pull request octo/hello#7" (the repository must '
    "be in GITHUB_REPOSITORIES)."
)


INTRO = "*I'm the offline demo model*: simple rules over your words, no AI. "


def decide(request: dict[str, Any]) -> Answer:
    """The demo model's answer to one `/v1/chat/completions` request body."""
    schema = triage.requested_schema(request)
    turn = Turn.of(request.get("messages") or [])
    if schema is not None:
        return Say(json.dumps(triage.triage(turn.user_text, schema)))
    if turn.user_text.startswith("Passages from "):
        return answer_from_passages(turn.user_text)
    answer = chat(turn, {t.get("function", {}).get("name") for t in request.get("tools") or []})
    if turn.first and isinstance(answer, Say) and not answer.text.startswith("I'm the offline"):
        return Say(INTRO + answer.text)  # the first answer of a chat says what answers it
    return answer


def chat(turn: Turn, tools: set[Any]) -> Answer:
    if "create_task" in tools:
        return assistant(turn, tools)
    if "search_documents" in tools:
        return researcher(turn)
    if "get_issue" in tools:
        return coder(turn)
    return Say(f"{understood(turn.user_text)} I can chat with tools: pick the assistant agent.")


def understood(text: str) -> str:
    short = " ".join(text.split())
    short = short if len(short) <= 120 else short[:117] + "..."
    return f"I understood: “{short}”, but no rule of mine matches it."


# -- assistant ------------------------------------------------------------------------------------


_RENAME = re.compile(
    r"\b(?:rename|retitle|change\s+the\s+(?:title|name)\s+of|call)\s+(?P<old>.+?)\s+"
    r"(?:to|as|into|instead\s+of)\s+(?P<new>.+?)(?:\s+instead)?$",
    re.IGNORECASE,
)
_MOVE = re.compile(
    r"\b(?:move|put|file|add|assign)\s+(?P<task>.+?)\s+(?:to|in|into|under|on)\s+"
    r"(?:the\s+)?(?:project\s+(?P<project>.+?)|(?P<project_before>.+?)\s+project)[.!]?$",
    re.IGNORECASE,
)
_PRIORITY_CHANGE = re.compile(
    r"\b(?:set|make|change|mark|raise|lower|bump|update|give|prioriti[sz]e|flag)\b", re.IGNORECASE
)
_PRIORITY_PHRASE = re.compile(
    r"\s*(?:\b(?:to|as|a|an|at|with|the|its|of)\s+)*\b(?:high|low|medium|urgent|important|"
    r"critical)\b(?:[- ]priority)?|\s*\b(?:the\s+)?priority(?:\s+of)?\b",
    re.IGNORECASE,
)


def assistant(turn: Turn, tools: set[str]) -> Answer:
    text = corrected(turn.user_text)
    lowered = text.lower()
    if turn.last_failure is not None:
        return Say(f"That did not work: {turn.last_failure}")
    if "update_task" in tools and (move := _MOVE.search(text)):
        return move_task(
            turn, move.group("task"), move.group("project") or move.group("project_before")
        )
    if "project" in lowered and _any(lowered, "create", "make", "start", "new", "set up", "add"):
        return create_project(turn, text)
    if "update_task" in tools and (rename := _RENAME.search(text)):
        return rename_task(turn, rename.group("old"), rename.group("new"))
    if "update_task" in tools and _PRIORITY_CHANGE.search(text) and _level_in(text):
        return set_priority(turn, text)
    asks_to_see = _any(lowered, "list", "show", "which", "what")
    if _any(lowered, "complete", "finish", " done", "close", "check off") and not asks_to_see:
        return change_status(turn, text, "done", "Marked {title!r} as done.")
    if _any(lowered, "start working", "start on", "in progress", "begin"):
        return change_status(turn, text, "in_progress", "{title!r} is now in progress.")
    if "delete_task" in tools and _any(lowered, "delete", "remove") and "task" in lowered:
        return delete_task(turn, text)
    if _any(lowered, "list", "show", "what are", "what's on", "which", "my tasks", "how many"):
        return list_tasks(turn, text)
    if _any(lowered, "task", "todo", "to-do", "remind me", "add ", "create "):
        return create_tasks(turn, text)
    return Say(f"{understood(turn.user_text)}\n\n{ASSISTANT_HELP}")


def _level_in(text: str) -> str | None:
    """The priority a change asks for: 'high priority', 'urgent' ('make X urgent'), or a bare
    level when the sentence says priority ('change the priority of X to low')."""
    levels = re.sub(r"\b(?:urgent|important|critical)\b", "high priority", text, flags=re.I)
    if found := priority_in(levels):
        return found
    bare = re.search(r"\bpriority\b.*\b(high|low|medium)\b", text, re.IGNORECASE)
    return bare.group(1).lower() if bare else None


def _any(text: str, *words: str) -> bool:
    return any(word in text for word in words)


def create_tasks(turn: Turn, text: str) -> Answer:
    done = turn.results("create_task")
    if done:
        names = ", ".join(repr(r["task"]["title"]) for r in done)
        priority = done[0]["task"]["priority"]
        plural = "tasks" if len(done) > 1 else "task"
        return Say(f"I created the {plural} {names} (priority {priority}).")
    titles = task_titles(text)
    if not titles:
        return Say(
            "What should the task be called? For example: "
            '"add a task to write the report".\n\n' + ASSISTANT_HELP
        )
    priority = priority_in(text) or "medium"
    calls = tuple(("create_task", {"title": t, "priority": priority}) for t in titles)
    return ToolRequest(calls)


def task_titles(text: str) -> list[str]:
    """The titles asked for: quoted ones, else the words after 'task(s)', 'to' or 'remind me to'."""
    if found := quoted(text):
        return [clean_title(t) for t in found if clean_title(t)]
    for pattern in (r"\btasks\b[:\s]*", r"\bremind me to\b", r"\btasks?\b\s*(?:to|:)?", r"\badd\b"):
        rest = after(text, pattern)
        if rest and "tasks" in pattern:
            return split_items(rest)
        if rest and clean_title(rest):
            return [clean_title(rest)]
    return []


def list_tasks(turn: Turn, text: str) -> Answer:
    done = turn.results("list_tasks")
    if done:
        tasks = done[-1]["tasks"]
        if not tasks:
            return Say('You have no tasks here yet. Try "add a task to write the report".')
        lines = [f"- {t['title']} ({t['priority']} priority, {t['status']})" for t in tasks]
        count = done[-1].get("total", len(tasks))
        return Say(f"You have {count} task{'s' if count != 1 else ''}:\n" + "\n".join(lines))
    lowered = text.lower()
    arguments: dict[str, Any] = {}
    if _any(lowered, "done", "completed", "finished"):
        arguments["status"] = "done"
    elif _any(lowered, "in progress", "started"):
        arguments["status"] = "in_progress"
    elif _any(lowered, "pending", "open", "todo", "to do", "left"):
        arguments["status"] = "pending"
    if priority := priority_in(text):
        arguments["priority"] = priority
    return ToolRequest((("list_tasks", arguments),))


def _target(text: str, *verbs: str) -> str:
    if found := quoted(text):
        return found[0]
    rest = text
    for verb in verbs:
        rest = after(rest, verb) or rest
    return clean_title(
        rest.replace(" as done", "").replace(" done", "").replace(" in progress", "")
    )


def _best(items: list[dict[str, Any]], key: str, target: str) -> dict[str, Any] | None:
    """The item whose `key` shares the most words with `target`, small typos allowed; an exact
    match (case aside) wins outright."""
    wanted = " ".join(target.lower().split())
    for item in items:
        if " ".join(str(item[key]).lower().split()) == wanted:
            return item
    scored = [(fuzzy_overlap(str(item[key]), target), -len(str(item[key])), item) for item in items]
    scored = [entry for entry in scored if entry[0] > 0]
    return max(scored, key=lambda entry: entry[:2])[2] if scored else None


def _find_task(turn: Turn, target: str) -> dict[str, Any] | None:
    listed = turn.results("list_tasks")
    return _best(listed[-1]["tasks"] if listed else [], "title", target)


def _task_or_lookup(turn: Turn, target: str) -> dict[str, Any] | ToolRequest | Say:
    """The task `target` names, or the list_tasks call to find it, or why there is none."""
    if not turn.results("list_tasks"):
        return ToolRequest((("list_tasks", {"limit": 200}),))
    task = _find_task(turn, target)
    if task is None:
        return Say(f"I found no task matching {target!r}. {_titles(turn)}")
    return task


def change_status(turn: Turn, text: str, status: str, message: str) -> Answer:
    updated = turn.results("update_task")
    if updated:
        return Say(message.format(title=updated[-1]["task"]["title"]))
    target = _target(text, r"\bcomplete\b", r"\bfinish\b", r"\bmark\b", r"\bclose\b", r"\bon\b")
    task = _task_or_lookup(turn, target)
    if not isinstance(task, dict):
        return task
    return ToolRequest((("update_task", {"task_id": task["id"], "status": status}),))


def rename_task(turn: Turn, old: str, new: str) -> Answer:
    """'rename design to design mockups', 'change the title of X to "Y"'."""
    if updated := turn.results("update_task"):
        return Say(f"Renamed it to {updated[-1]['task']['title']!r}.")
    titles = quoted(turn.user_text)
    old, new = (titles[0], titles[1]) if len(titles) >= 2 else (clean_title(old), new)
    new_title = clean_title(new.strip("\"'“”‘’"))
    if not new_title:
        return Say('What should the new title be? For example: "rename design to design mockups".')
    task = _task_or_lookup(turn, old)
    if not isinstance(task, dict):
        return task
    return ToolRequest((("update_task", {"task_id": task["id"], "title": new_title}),))


def set_priority(turn: Turn, text: str) -> Answer:
    """'set the report to high priority', 'make design urgent', 'lower the priority of X'."""
    if updated := turn.results("update_task"):
        task = updated[-1]["task"]
        return Say(f"{task['title']!r} is now {task['priority']} priority.")
    priority = _level_in(text) or "medium"
    rest = _PRIORITY_CHANGE.split(text, maxsplit=1)[-1]
    target = clean_title(_PRIORITY_PHRASE.sub(" ", quoted(text)[0] if quoted(text) else rest))
    task = _task_or_lookup(turn, target)
    if not isinstance(task, dict):
        return task
    return ToolRequest((("update_task", {"task_id": task["id"], "priority": priority}),))


def move_task(turn: Turn, target: str, project_name: str) -> Answer:
    """'move the report to project Launch', 'put design in the website project'."""
    if updated := turn.results("update_task"):
        listed = turn.results("list_projects")
        projects = listed[-1]["projects"] if listed else []
        project_id = updated[-1]["task"].get("project_id")
        name = next((p["name"] for p in projects if p["id"] == project_id), project_name.strip())
        return Say(f"Moved {updated[-1]['task']['title']!r} to project {name!r}.")
    task = _task_or_lookup(turn, clean_title(target))
    if not isinstance(task, dict):
        return task
    listed = turn.results("list_projects")
    if not listed:
        return ToolRequest((("list_projects", {"limit": 200}),))
    project = _best(listed[-1]["projects"], "name", project_name)
    if project is None:
        names = ", ".join(repr(p["name"]) for p in listed[-1]["projects"]) or "none yet"
        return Say(f"I found no project matching {project_name.strip()!r}. Your projects: {names}.")
    return ToolRequest((("update_task", {"task_id": task["id"], "project_id": project["id"]}),))


def delete_task(turn: Turn, text: str) -> Answer:
    deleted = turn.steps_of("delete_task")
    if deleted:
        return Say(_outcome_text(deleted[-1], "I deleted the task."))
    task = _task_or_lookup(turn, _target(text, r"\bdelete\b", r"\bremove\b"))
    if not isinstance(task, dict):
        return task
    return ToolRequest((("delete_task", {"task_id": task["id"]}),))


def _outcome_text(step: Step, success: str) -> str:
    if isinstance(step.result, dict) and "error" in step.result:
        return f"I did not do it: {step.result.get('detail') or step.result['error']}"
    return success


def _titles(turn: Turn) -> str:
    listed = turn.results("list_tasks")
    titles = [t["title"] for t in listed[-1]["tasks"]] if listed else []
    return f"Your tasks: {', '.join(map(repr, titles))}." if titles else "You have no tasks yet."


def create_project(turn: Turn, text: str) -> Answer:
    done = turn.results("create_project")
    if done:
        name = done[-1]["project"]["name"]
        titles = [t["title"] for t in done[-1]["tasks"]]
        listed = f" with {len(titles)} task(s): {', '.join(titles)}" if titles else ""
        return Say(f"I created the project {name!r}{listed}.")
    names = quoted(text)
    head, _, tail = text.partition(" with ")
    name = names[0] if names else clean_title(after(head, r"\bproject\b[:\s]*") or "")
    name = clean_title(after(name, r"^(?:called|named)\b") or name)
    if not name:
        return Say(
            'What should the project be called? For example: "create a project Launch with '
            'tasks design, build and ship".'
        )
    tasks_text = after(tail, r"^(?:the\s+)?tasks?\b[:\s]*") if tail else None
    tasks = [{"title": t} for t in split_items(tasks_text or tail)] if tail else []
    return ToolRequest((("create_project", {"name": name, "tasks": tasks}),))


# -- researcher -----------------------------------------------------------------------------------


def researcher(turn: Turn) -> Answer:
    question = turn.user_text
    if turn.last_failure is not None:
        return Say(f"The search failed: {turn.last_failure}")
    searched = turn.results("search_documents")
    if not searched:
        if len(question.split()) < 2 and not question.endswith("?"):
            return Say(f"{understood(question)}\n\n{RESEARCHER_HELP}")
        return ToolRequest((("search_documents", {"query": question[:1000], "limit": 5}),))
    hits = searched[-1]["results"]
    if not hits:
        return Say(f"I found nothing about that in your documents.\n\n{RESEARCHER_HELP}")
    read = turn.results("read_document_chunk")
    if not read:
        return ToolRequest((("read_document_chunk", {"chunk_id": hits[0]["chunk_id"]}),))
    chunk = read[-1]["chunk"]
    quote = best_sentence(chunk["text"], question) or hits[0]["excerpt"]
    return Say(f"According to {chunk['filename']}, page {chunk['page']}: “{quote}”")


def answer_from_passages(prompt: str) -> Answer:
    """For `POST /api/documents/{id}/ask`: the best-matching numbered passage, cited as [n]."""
    body, _, question = prompt.rpartition("\nQuestion:")
    passages = [p for p in body.split("\n\n[")[1:] if "]" in p]
    if not passages:
        return Say("The document has no text I could read.")
    scored = [(overlap(p, question), -i, i + 1, p) for i, p in enumerate(passages)]
    _, _, number, passage = max(scored)
    text = passage.split("\n", 1)[1] if "\n" in passage else passage
    return Say(f"{best_sentence(text, question)} [{number}]")


# -- coder ----------------------------------------------------------------------------------------


def coder(turn: Turn) -> Answer:
    text = turn.user_text
    if turn.last_failure is not None:
        return Say(f"I could not read it from GitHub: {turn.last_failure}")
    if issue := turn.results("get_issue"):
        found = issue[-1]
        title = found.get("issue", found).get("title", "?")
        return Say(f"The issue is titled {title!r}. I'm the demo model, so that's all I can say.")
    if turn.steps_of("get_pull_request_diff"):
        return Say("I read the diff. I'm the demo model, so I can't review it for you.")
    reference = triage.github_reference(text)
    if reference is None:
        return Say(f"{understood(text)}\n\n{CODER_HELP}")
    repository, number = reference
    if _any(text.lower(), "pull request", "pr ", "diff", "review"):
        return ToolRequest(
            (("get_pull_request_diff", {"repository": repository, "pr_number": number}),)
        )
    return ToolRequest((("get_issue", {"repository": repository, "issue_number": number}),))
