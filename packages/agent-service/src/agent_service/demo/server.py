"""Serving the demo rules (or a kit script file) on loopback with the test kit's fake server.

The kit is imported here, lazily: the service needs it only when `serve --llm demo|fake` asks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent_service.demo.rules import Say, decide

if TYPE_CHECKING:
    from agent_testkit import FakeLLMServer
    from agent_testkit.fake_llm.recording import RecordedCall
    from agent_testkit.fake_llm.script import ScriptItem

KEEP_CALLS = 200  # the fake records every call; a long demo keeps only the newest
WORD_DELAY_S = 0.04  # served, the demo streams a word at a time at about a reader's pace


def demo_answer(call: RecordedCall, *, word_delay: float = 0.0) -> ScriptItem:
    """The kit script item for one call: what `decide` answers, as a reply or tool calls;
    streamed, its words are `word_delay` seconds apart.

    Pass it to the kit's `respond()` (tests do, with the in-process fake) to get the demo model.
    """
    from agent_testkit.fake_llm import script as items

    decided = decide(call.request)
    if isinstance(decided, Say):
        return items.reply(decided.text, chunk_delay=word_delay)
    return items.tool_calls(decided.calls, content=decided.text)


def start_demo_llm() -> FakeLLMServer:
    """The demo model on a free loopback port: every chat completion is answered by `decide`."""
    from agent_testkit import FakeLLMServer
    from agent_testkit.fake_llm import script as items

    def answer(call: RecordedCall) -> ScriptItem:
        if len(server.calls) > 2 * KEEP_CALLS:
            del server.calls[:-KEEP_CALLS]
        return demo_answer(call, word_delay=WORD_DELAY_S)

    server = FakeLLMServer(strict=False, default=items.respond(answer))
    return server.start()


def start_script_llm(path: Path | None) -> FakeLLMServer:
    """The kit's fake answering with a script file's items in order (then its `default`)."""
    from agent_testkit import FakeLLMServer
    from agent_testkit.fake_llm.script_file import load_script_file

    script: list[Any] = []
    options: dict[str, Any] = {}
    if path is not None:
        script, options = load_script_file(path)
    options.setdefault("strict", False)  # a live server answers past the script, never fails
    server = FakeLLMServer(**options)
    server.script(*script)
    return server.start()
