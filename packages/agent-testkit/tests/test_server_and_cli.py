"""The loopback server as a context manager, and `python -m agent_testkit.fake_llm` as another process."""

import logging
import signal
import socket
import subprocess
import sys
import time
from urllib.parse import urlsplit

import openai
import pytest

from agent_testkit import FakeLLMServer

SCRIPT = """
script:
  - reply: "Hello from another process."
  - tool_call: {name: create_task, arguments: {title: Write tests}}
  - rate_limited: {retry_after: 0.01}
"""


def test_server_context_manager_verifies_on_exit():
    server = FakeLLMServer()
    with (
        pytest.raises(AssertionError, match=r"script item 1 was never used: reply\('Unused.'\)"),
        server,
    ):
        server.script(server.reply("Unused."))
    assert server.base_url.startswith("http://127.0.0.1:")


def test_a_call_the_client_abandons_mid_body_is_not_an_error_nor_a_call(caplog):
    """An app that cancels a model call while sending it (a cancelled turn) leaves the fake
    quiet: no "Exception in ASGI application" traceback in the test's log, no call recorded."""
    caplog.set_level(logging.DEBUG, logger="agent_testkit.fake_llm")
    uvicorn_errors = logging.getLogger("uvicorn.error")
    with FakeLLMServer() as server:
        # uvicorn's loggers do not propagate, and its start sets their handlers anew
        uvicorn_errors.addHandler(caplog.handler)
        try:
            address = urlsplit(server.base_url)
            assert address.hostname and address.port
            with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
                sock.sendall(
                    b"POST /v1/chat/completions HTTP/1.1\r\nHost: fake\r\n"
                    b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
                    b'{"model": "fake-model", "messages": ['
                )
            deadline = time.monotonic() + 5
            while not any(
                "abandoned" in r.getMessage() or r.levelno >= logging.ERROR for r in caplog.records
            ):
                assert time.monotonic() < deadline, "the server never saw the client go"
                time.sleep(0.02)
        finally:
            uvicorn_errors.removeHandler(caplog.handler)
        assert server.calls == []
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [], [r.getMessage() for r in errors]


def test_command_line_server(tmp_path):
    script = tmp_path / "script.yaml"
    script.write_text(SCRIPT)
    command = [sys.executable, "-m", "agent_testkit.fake_llm", "--script", str(script)]
    with subprocess.Popen(  # noqa: S603 - our own module, a fixed argv
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as process:
        try:
            base_url = process.stdout.readline().split()[-1]
            client = openai.OpenAI(base_url=base_url, api_key="sk-test", max_retries=0)
            messages = [{"role": "user", "content": "Hi"}]
            reply = client.chat.completions.create(model="m", messages=messages)
            assert reply.choices[0].message.content == "Hello from another process."
            tool = {"type": "function", "function": {"name": "create_task", "parameters": {}}}
            call = (
                client.chat.completions.create(model="m", messages=messages, tools=[tool])
                .choices[0]
                .message.tool_calls[0]
            )
            assert (call.function.name, call.function.arguments) == (
                "create_task",
                '{"title": "Write tests"}',
            )
        finally:
            process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 1
    assert "script item 3 was never used: rate_limited(retry_after=0.01)" in stderr
