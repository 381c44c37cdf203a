"""Where one chat turn's work goes: its SQL statements by kind, then a cProfile of N turns.

    .venv/bin/python benchmarks/profile_turn.py [--turns 20] [--top 30] [--statements] [--stream WORDS]
        [--history N]

The service runs in this process (httpx.ASGITransport, SQLite in a temporary folder) and the kit's
FakeLLMServer answers on 127.0.0.1 in a thread: a `create_task` tool call, then a reply, as in
`bench_agent_turn.py`, each turn in a conversation of its own. The statement count is the round trips a turn costs the database; the profile
(sorted by own time, then cumulative) is where to cut CPU. The fake's thread is in the CPU figure.
`--history N` gives each conversation N stored messages first (questions, tool calls, their
results, answers), as a long chat has: every turn sends the model the whole history.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import pstats
import sys
import tempfile
import time
import traceback
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import greenlet
import httpx
from pydantic import SecretStr
from sqlalchemy import event

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.factories makes the verified user

from agent_service import migrations  # noqa: E402
from agent_service.app import create_app  # noqa: E402
from agent_service.conversations import service as conversations  # noqa: E402
from agent_service.conversations.models import Conversation  # noqa: E402
from agent_service.llm.messages import ChatMessage, ToolCallRequest  # noqa: E402
from agent_service.settings import Settings  # noqa: E402
from agent_testkit import FakeLLMServer  # noqa: E402
from tests import factories  # noqa: E402


def past_messages(count: int) -> list[conversations.NewMessage]:
    """`count` messages of a chat that went on for a while: each exchange a question, a tool call,
    its result and an answer."""
    exchange: list[conversations.NewMessage] = []
    for n in range(0, count, 4):
        call = ToolCallRequest(f"call_{n}", "create_task", json.dumps({"title": f"task {n}"}))
        exchange += [
            conversations.NewMessage(ChatMessage("user", f"please add task {n} " + "words " * 30)),
            conversations.NewMessage(ChatMessage("assistant", None, (call,))),
            conversations.NewMessage(
                ChatMessage("tool", json.dumps({"id": str(n), "title": f"task {n}"}), (), call.id),
                tool_name="create_task",
            ),
            conversations.NewMessage(ChatMessage("assistant", f"Added task {n}. " + "ok " * 30)),
        ]
    return exchange[:count]


def statement_kind(statement: str) -> str:
    """`SELECT`, `INSERT run_event`, `UPDATE run`…: the verb and, for writes, the table."""
    words = statement.split()
    verb = words[0].upper()
    if verb in {"INSERT", "DELETE"} and len(words) > 2:
        return f"{verb} {words[2]}"
    if verb == "UPDATE" and len(words) > 1:
        return f"{verb} {words[1]}"
    return verb


def our_caller() -> str:
    """The innermost frame of the service's own code that issued a statement: where to cut it.

    SQLAlchemy's asyncio layer runs the statement in a greenlet; the service's `await` that asked
    for it is on the parent greenlet's stack, so both stacks are searched.
    """
    stacks = [traceback.extract_stack()]
    parent = greenlet.getcurrent().parent
    if parent is not None and parent.gr_frame is not None:
        stacks.append(traceback.extract_stack(parent.gr_frame))
    for stack in stacks:
        for frame in reversed(stack):
            if "agent_service" in frame.filename:
                module = frame.filename.split("agent_service/")[-1]
                return f"{module}:{frame.lineno} {frame.name}"
    return "?"


async def profile(
    server: FakeLLMServer,
    folder: Path,
    url: str,
    turns: int,
    top: int,
    listing: bool,
    words: int,
    history: int,
) -> None:
    settings = Settings(
        _env_file=None,
        database_url=url,
        data_dir=folder / "data",
        mail_dir=folder / "mail",
        jwt_secret=SecretStr("p" * 64),
        llm_api_key=SecretStr("profile-key"),
        llm_base_url=server.base_url,
        llm_model="fake-model",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        user = await factories.make_user(app.state.sessionmaker, settings)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:

            async def conversation() -> str:
                r = await client.post(
                    "/api/conversations", json={"agent_type": "assistant"}, headers=user.headers
                )
                r.raise_for_status()
                conversation_id = str(r.json()["id"])
                if history:
                    async with app.state.sessionmaker() as session:
                        stored = await session.get(Conversation, uuid.UUID(conversation_id))
                        assert stored is not None
                        await conversations.append_messages(session, stored, past_messages(history))
                        await session.commit()
                return conversation_id

            # as in bench_agent_turn: a fresh conversation per turn, made beforehand (unmeasured),
            # so every turn sends the model the same short history
            fresh = [await conversation() for _ in range(2 * turns + 6)]

            async def turn(number: int) -> None:
                body = {"message": f"add task {number}", "conversation_id": fresh.pop()}
                if words:  # a streamed answer, one word per chunk, paced as a model writes
                    text = " ".join(f"word{i}" for i in range(words))
                    server.script(server.reply(text, chunk_delay=0.01))
                    path = "/api/agent/chat/stream"
                else:
                    server.script(
                        server.tool_call("create_task", title=f"task {number}"),
                        server.reply("Done."),
                    )
                    path = "/api/agent/chat"
                r = await client.post(path, json=body, headers=user.headers)
                r.raise_for_status()

            for number in range(5):  # warm caches (compiled statements, the first connection)
                await turn(number)

            kinds: Counter[str] = Counter()
            issued: list[str] = []

            def count(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
                kinds[statement_kind(statement)] += 1
                if listing:
                    first_line = " ".join(statement.split())[:90]
                    issued.append(f"  {our_caller():<55} {first_line}")

            event.listen(app.state.engine.sync_engine, "before_cursor_execute", count)
            await turn(-1)
            event.remove(app.state.engine.sync_engine, "before_cursor_execute", count)
            print(f"SQL statements in one turn: {sum(kinds.values())}")
            for kind, n in kinds.most_common():
                print(f"  {n:>3}  {kind}")
            if listing:
                print("\nin order, with the service code that issued each:")
                print("\n".join(issued))

            cpu = time.process_time()
            for number in range(turns):
                await turn(number)
            cpu = time.process_time() - cpu
            print(f"\n{turns} turns: {1000 * cpu / turns:.1f} ms CPU per turn (this process)")

            profiler = cProfile.Profile()
            cpu, wall = time.process_time(), time.perf_counter()
            profiler.enable()
            for number in range(turns):
                await turn(number)
            profiler.disable()
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            print(
                f"\n{turns} turns: {1000 * cpu / turns:.1f} ms CPU and {1000 * wall / turns:.1f} ms"
            )
            print("wall per turn (under cProfile, which slows Python code down about 2x)\n")
            stats = pstats.Stats(profiler)
            stats.sort_stats("tottime").print_stats(top)
            stats.sort_stats("cumulative").print_stats(top)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--top", type=int, default=30, help="functions shown per ordering")
    parser.add_argument(
        "--statements", action="store_true", help="list each statement and where it came from"
    )
    parser.add_argument(
        "--stream",
        type=int,
        default=0,
        metavar="WORDS",
        help="profile streamed turns instead: an answer of WORDS chunks, 10 ms apart, no tool",
    )
    parser.add_argument(
        "--history",
        type=int,
        default=0,
        metavar="N",
        help="each conversation starts with N stored messages (a long chat)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="profile-turn-") as folder, FakeLLMServer() as server:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'profile.db'}"
        migrations.upgrade(url)  # alembic runs its own event loop: before ours
        asyncio.run(
            profile(
                server,
                Path(folder),
                url,
                args.turns,
                args.top,
                args.statements,
                args.stream,
                args.history,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
