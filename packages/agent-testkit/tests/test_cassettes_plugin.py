"""Cassettes as a user meets them, through pytester: record from a real (loopback) server once, replay
offline, scrubbing, stream pace, the age limit, unanswered requests, unused interactions, orphan files,
record modes, and `--record-mode` shared with another plugin."""

import asyncio
import json
import threading
import time
from datetime import UTC, datetime

import httpx
import pytest
import uvicorn

from agent_testkit.cassettes import (
    Body,
    CassetteFile,
    CassetteProblems,
    Interaction,
    RecordedRequest,
    RecordedResponse,
    load_cassette,
    save_cassette,
    use_cassette,
)

CHUNK_DELAY_S = 0.02


class Upstream:
    """A small OpenAI-like API on 127.0.0.1: streamed tool call then text, and a token endpoint that
    hands out (and echoes) secrets. Counts the requests that reached it."""

    def __init__(self) -> None:
        self.hits: list[str] = []

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        self.hits.append(scope["path"])
        if scope["path"] == "/v1/chat/completions":
            paced = (b"x-pace", b"1") in scope["headers"]
            await self.chat(json.loads(body), send, CHUNK_DELAY_S if paced else 0)
        else:
            headers = dict(scope["headers"])
            answer = {
                "access_token": "RESPONSE-SECRET-7",
                "token_type": "bearer",
                "echo": headers.get(b"authorization", b"").decode(),
                "path": scope["path"],
            }
            extra = [(b"set-cookie", b"session=COOKIE-SECRET-9; HttpOnly")]
            await self.send(send, 200, json.dumps(answer).encode(), b"application/json", extra)

    async def chat(self, request: dict, send, delay: float) -> None:
        answered = request["messages"][-1]["role"] == "tool"
        if answered:
            deltas = [{"role": "assistant", "content": ""}, {"content": "The capital"}, {"content": " is London."}]  # fmt: skip
        else:
            call = {"index": 0, "id": "call_up_1", "type": "function", "function": {"name": "get_capital", "arguments": ""}}  # fmt: skip
            deltas = [
                {"role": "assistant", "tool_calls": [call]},
                {"tool_calls": [{"index": 0, "function": {"arguments": '{"country":'}}]},
                {"tool_calls": [{"index": 0, "function": {"arguments": '"UK"}'}}]},
            ]
        finish = "stop" if answered else "tool_calls"
        chunks = [self.chunk(d, None) for d in deltas] + [self.chunk({}, finish), "[DONE]"]
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})  # fmt: skip
        for chunk in chunks:
            await asyncio.sleep(delay)
            await send({"type": "http.response.body", "body": f"data: {chunk}\n\n".encode(), "more_body": True})  # fmt: skip
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    @staticmethod
    def chunk(delta: dict, finish: str | None) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return json.dumps({"id": "chatcmpl-up", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]})  # fmt: skip

    @staticmethod
    async def send(send, status: int, body: bytes, ctype: bytes, extra=()) -> None:
        headers = [(b"content-type", ctype), *extra]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def upstream():
    app = Upstream()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the upstream did not start"
        time.sleep(0.005)
    app.url = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    yield app
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def project(user_project, upstream, monkeypatch):
    """A user's project whose tests reach `upstream` through $UPSTREAM; hits reset for each test."""
    monkeypatch.setenv("UPSTREAM", upstream.url)
    monkeypatch.setenv("MY_SERVICE_TOKEN", "ENV-SECRET-8")  # a secret the app puts somewhere odd
    upstream.hits.clear()
    return user_project


AGENT_TESTS = """
import os, time
import httpx, httpx2, openai, pytest

BASE = os.environ["UPSTREAM"]
TOOLS = [{"type": "function", "function": {"name": "get_capital", "parameters": {"type": "object"}}}]
QUESTION = {"role": "user", "content": "Capital of the UK?"}


def client(kind, **options):
    options |= {"base_url": BASE + "/v1", "api_key": "sk-live-KEY-SECRET-0", "max_retries": 0}
    if kind == "sdk-default":  # httpx2
        return openai.OpenAI(**options)
    if kind == "sdk-async-default":
        return openai.AsyncOpenAI(**options)
    if kind == "sdk-async-httpx":
        return openai.AsyncOpenAI(**options, http_client=httpx.AsyncClient())
    return openai.OpenAI(**options, http_client=httpx.Client())


async def create(client, **body):
    result = client.chat.completions.create(model="m", tools=TOOLS, stream=True, **body)
    if isinstance(client, openai.AsyncOpenAI):
        return [c async for c in await result]
    return list(result)


async def converse(kind, headers=None, **sampling):
    c = client(kind, default_headers=headers)
    try:
        return await turns(c, **sampling)
    finally:
        await c.close() if isinstance(c, openai.AsyncOpenAI) else c.close()


async def turns(c, **sampling):
    first = await create(c, messages=[QUESTION], **sampling)
    call = first[0].choices[0].delta.tool_calls[0]
    arguments = "".join(ch.choices[0].delta.tool_calls[0].function.arguments or "" for ch in first if ch.choices[0].delta.tool_calls)
    assistant = {"role": "assistant", "tool_calls": [{"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": arguments}}]}
    result = {"role": "tool", "tool_call_id": call.id, "content": "London"}
    second = await create(c, messages=[QUESTION, assistant, result], **sampling)
    return arguments, "".join(ch.choices[0].delta.content or "" for ch in second)


@pytest.mark.cassette
@pytest.mark.parametrize("kind", ["sdk-default", "sdk-async-default", "sdk-async-httpx", "sdk-httpx"])
async def test_agent_turn(kind):
    assert await converse(kind) == ('{"country":"UK"}', "The capital is London.")


@pytest.mark.cassette(timing=1.0)
async def test_paced_replay(cassette):
    started = time.monotonic()
    await converse("sdk-async-default", {"x-pace": "1"}, temperature=0.7)  # sampling may differ
    with open(os.environ["ELAPSED_FILE"], "w") as out:
        out.write(str(time.monotonic() - started))


@pytest.mark.cassette(scrub_fields=["session_hint"])
def test_login():
    r = httpx2.post(
        BASE + "/token?api_key=QUERY-SECRET-1&page=1",
        json={"password": "BODY-SECRET-2", "user": "me", "session_hint": "EXTRA-SECRET-3",
              "note": os.environ["MY_SERVICE_TOKEN"]},
        headers={"Authorization": "Bearer HEADER-SECRET-4", "X-Api-Key": "HEADER-SECRET-5",
                 "Cookie": "sid=COOKIE-SECRET-6"},
    )
    assert r.status_code == 200 and r.json()["token_type"] == "bearer"
"""


def test_record_once_then_replay_offline_with_chunks_pace_and_no_secrets(
    project, upstream, monkeypatch, tmp_path
):
    elapsed = tmp_path / "elapsed"
    monkeypatch.setenv("ELAPSED_FILE", str(elapsed))
    project.makepyfile(test_agent=AGENT_TESTS)
    project.runpytest("--record-mode=once").assert_outcomes(passed=6)
    assert len(upstream.hits) == 11  # 4 clients x 2 turns, the paced test's 2, the login

    cassettes = project.path / "cassettes" / "test_agent"
    assert sorted(p.name for p in cassettes.iterdir()) == [
        "test_agent_turn[sdk-async-default].yaml",
        "test_agent_turn[sdk-async-httpx].yaml",
        "test_agent_turn[sdk-default].yaml",
        "test_agent_turn[sdk-httpx].yaml",
        "test_login.yaml",
        "test_paced_replay.yaml",
    ]
    paced = load_cassette(cassettes / "test_paced_replay.yaml")
    stream = paced.interactions[0].response.body
    assert len(stream.chunks) == 5  # one per event, as the server sent them
    first_event = json.loads(stream.chunks[0].removeprefix(b"data: "))
    assert first_event["choices"][0]["delta"]["tool_calls"][0]["id"] == "call_up_1"
    assert all(d >= CHUNK_DELAY_S * 1000 * 0.5 for d in stream.delays_ms)
    for path in cassettes.iterdir():
        text = path.read_text()
        assert "SECRET" not in text, (
            path.name
        )  # headers, query, JSON fields, env value, echoes, cookies
    login = load_cassette(cassettes / "test_login.yaml").interactions[0]
    assert login.request.body.json["user"] == "me"  # only secrets are replaced
    assert login.response.headers["set-cookie"] == ["<scrubbed>"]

    upstream.hits.clear()
    elapsed.unlink()
    project.runpytest().assert_outcomes(passed=6)  # default record mode: none
    assert upstream.hits == []  # offline
    recorded_pace = sum(
        sum(i.response.body.delays_ms) for i in paced.interactions if i.response.body.delays_ms
    )
    assert float(elapsed.read_text()) >= recorded_pace / 1000 * 0.9  # timing=1.0: the recorded pace


REPLAY_FAILURES = """
import httpx, pytest

API = "https://api.example.test"


@pytest.mark.cassette
def test_missing():
    pass


@pytest.mark.cassette("old")
def test_expired():
    httpx.get(API + "/a")


@pytest.mark.cassette("old", max_age_days=None)
def test_old_but_no_limit():
    assert httpx.get(API + "/a").json() == {"k": 1}


@pytest.mark.cassette("ab")
def test_unanswered():
    r = httpx.post(API + "/a", json={"k": 2})
    assert r.status_code == 500  # what the app sees; the test fails for it anyway


@pytest.mark.cassette("ab")
def test_unused():
    httpx.get(API + "/a")


@pytest.mark.cassette("ab", allow_unused=True)
def test_unused_allowed():
    httpx.get(API + "/a")


def test_fixture_alone(cassette):  # no marker: the test's own file, cassettes/test_replay/<test>.yaml
    assert cassette.path.name == "test_fixture_alone.yaml"
    assert cassette.replaying and not cassette.recording
"""


def interaction(method: str, path: str, request=None, answer=None) -> Interaction:
    body = Body() if request is None else Body(kind="json", json=request)
    return Interaction(
        RecordedRequest(method, f"https://api.example.test{path}", {}, body),
        RecordedResponse(
            200, {"content-type": ["application/json"]}, Body(kind="json", json=answer)
        ),
    )


@pytest.fixture
def replay_project(user_project):
    user_project.makepyfile(test_replay=REPLAY_FAILURES)
    directory = user_project.path / "cassettes" / "test_replay"
    now = datetime.now(UTC)
    save_cassette(
        directory / "ab.yaml",
        CassetteFile(
            [
                interaction("POST", "/a", {"k": 1}, {"ok": True}),
                interaction("GET", "/a", None, {"k": 1}),
                interaction("GET", "/b", None, {"k": 2}),
            ],
            now,
        ),
    )
    old = CassetteFile([interaction("GET", "/a", None, {"k": 1})], datetime(2020, 1, 2, tzinfo=UTC))
    save_cassette(directory / "old.yaml", old)
    save_cassette(directory / "test_removed_long_ago.yaml", CassetteFile([], now))
    save_cassette(directory / "test_fixture_alone.yaml", CassetteFile([], now))
    return user_project


def test_replay_failures_say_what_to_do(replay_project):
    result = replay_project.runpytest()
    result.assert_outcomes(passed=3, failed=2, errors=2)
    result.stdout.fnmatch_lines(
        [
            "*cassette '*test_replay/test_missing.yaml' does not exist, and record mode 'none' replays "
            "only (nothing reaches the network). Record it: "
            "pytest test_replay.py::test_missing --record-mode=once",
            "*cassette '*old.yaml' was recorded 2020-01-02T00:00:00Z (* days ago), past its age limit of "
            "90 days: the API it recorded may have changed since. Re-record it: "
            "pytest test_replay.py::test_expired --record-mode=all",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*_ test_unanswered _*",
            "*cassette '*ab.yaml' has no recorded answer for POST https://api.example.test/a",
            "*closest is interaction 1: k: sent 2, recorded 1",
            "*if the app changed on purpose, re-record: pytest test_replay.py::test_unanswered "
            "--record-mode=all",
            "*_ test_unused _*",
            "*cassette '*ab.yaml' interaction 1 was never used: POST https://api.example.test/a",
            "*cassette '*ab.yaml' interaction 3 was never used: GET https://api.example.test/b",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*agent_testkit: orphan cassettes*",
            "orphan cassette (no collected test uses it): cassettes/test_replay/test_removed_long_ago.yaml",
            "delete them, or fail the run on orphans with --cassette-fail-on-orphans*",
        ]
    )
    assert result.stdout.str().count("orphan cassette (no collected test uses it)") == 1


def test_ini_age_limit_and_failing_on_orphans_in_a_narrowed_run(replay_project):
    replay_project.makeini(
        replay_project.path.joinpath("tox.ini").read_text().rstrip()
        + "\ncassette_max_age_days = 100000\ncassette_fail_on_orphans = true\n"
    )
    result = replay_project.runpytest("-k", "expired or unused_allowed")
    result.assert_outcomes(passed=2)  # the ini limit lets the old cassette play
    result.stdout.fnmatch_lines(
        ["orphan cassette (no collected test uses it): *test_removed_long_ago.yaml"]
    )
    assert "test_missing" not in result.stdout.str()  # deselected tests still name their cassettes
    assert result.ret == pytest.ExitCode.TESTS_FAILED

    only_one = replay_project.runpytest("test_replay.py::test_unused_allowed")
    only_one.assert_outcomes(passed=1)
    assert "orphan cassette" not in only_one.stdout.str()  # a module run in part is not checked
    assert only_one.ret == pytest.ExitCode.OK


MODES = """
import os, httpx, pytest

@pytest.mark.cassette("modes")
def test_calls():
    for path in os.environ["PATHS"].split():
        assert httpx.get(os.environ["UPSTREAM"] + path).json()["path"] == path
"""


def test_record_modes_new_episodes_and_all(project, upstream, monkeypatch):
    project.makepyfile(test_modes=MODES)
    cassette = project.path / "cassettes" / "test_modes" / "modes.yaml"
    monkeypatch.setenv("PATHS", "/a")
    project.runpytest("--record-mode=once").assert_outcomes(passed=1)
    monkeypatch.setenv("PATHS", "/a /b")
    project.runpytest("--record-mode=once").assert_outcomes(failed=1)  # exists: replay only
    project.runpytest("--record-mode=new_episodes").assert_outcomes(passed=1)
    assert upstream.hits == ["/a", "/b"]  # /a was replayed, /b recorded and appended
    assert [i.request.url[-2:] for i in load_cassette(cassette).interactions] == ["/a", "/b"]
    project.runpytest("--record-mode=all").assert_outcomes(passed=1)
    assert upstream.hits == ["/a", "/b", "/a", "/b"]
    project.runpytest().assert_outcomes(passed=1)
    assert len(upstream.hits) == 4


OTHER_RECORDER = """
def pytest_addoption(parser):
    parser.getgroup("recording").addoption("--record-mode", dest="record_mode", default=None)
"""


def test_record_mode_option_is_shared_with_another_recorder_plugin(project, upstream, monkeypatch):
    """pytest-recording and cassetter define --record-mode too: no clash, and it drives cassettes."""
    project.makepyfile(other_recorder=OTHER_RECORDER, test_modes=MODES)
    monkeypatch.setenv("PATHS", "/a")
    project.syspathinsert()
    project.runpytest("-p", "other_recorder", "--record-mode=once").assert_outcomes(passed=1)
    assert upstream.hits == ["/a"]


async def test_use_cassette_without_pytest(tmp_path, upstream):
    path = tmp_path / "plain.yaml"
    upstream.hits.clear()
    with use_cassette(path, record_mode="once") as cassette:
        async with httpx.AsyncClient() as client:
            assert (await client.get(upstream.url + "/x")).json()["path"] == "/x"
    assert cassette.recording and len(upstream.hits) == 1
    with use_cassette(path) as cassette, httpx.Client() as client:
        assert client.get(upstream.url + "/x").json()["path"] == "/x"
    assert len(upstream.hits) == 1
    with (
        pytest.raises(CassetteProblems, match=r"interaction 1 was never used: GET http"),
        use_cassette(path),
    ):
        pass


def test_the_fake_llm_keeps_its_own_urls_under_a_cassette(fake_llm, tmp_path):
    import openai

    fake_llm.script(fake_llm.reply("From the fake."))
    save_cassette(tmp_path / "empty.yaml", CassetteFile([], datetime.now(UTC)))
    with use_cassette(tmp_path / "empty.yaml"):
        client = openai.OpenAI(base_url=fake_llm.base_url, api_key="sk-test", max_retries=0)
        reply = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "Hi"}]
        )
    assert reply.choices[0].message.content == "From the fake."
