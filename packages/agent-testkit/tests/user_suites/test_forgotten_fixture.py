"""A user's tests that reach for the real provider: the guard must stop each of them."""

import contextlib
import threading

import aiohttp
import openai
import pytest


def test_forgot_the_fixture():
    openai.OpenAI().chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "Hi"}]
    )


async def test_forgot_the_fixture_with_aiohttp():
    async with aiohttp.ClientSession() as session:
        await session.post("https://api.anthropic.com/v1/messages", json={"model": "claude"})


def test_the_app_swallows_the_refusal_in_a_thread():
    def call() -> None:
        with contextlib.suppress(BaseException):  # the app under test swallows everything
            openai.OpenAI().models.list()

    worker = threading.Thread(target=call)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive()


def test_other_hosts_pass_through():
    import httpx

    with pytest.raises(httpx.ConnectError):
        httpx.get("http://127.0.0.1:9/", timeout=5)
