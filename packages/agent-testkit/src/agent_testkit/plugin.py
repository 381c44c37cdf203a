"""pytest plugin (entry point `pytest11`): the `fake_llm` and `fake_llm_server` fixtures, the `fake_llm`
marker, the "agent-testkit" option group, and the strictness check after each test. Cassettes (the
`cassette` marker and fixture, `--record-mode`) come from `agent_testkit.cassettes.pytest_plugin`."""

from __future__ import annotations

import os
import sys
from collections.abc import Generator, Iterator
from typing import Any, Protocol

import pytest

from agent_testkit.fake_llm import DEFAULT_BASE_URL, FakeLLM
from agent_testkit.fake_llm.fake import DEFAULT_REPLY
from agent_testkit.fake_llm.interception import install, uninstall
from agent_testkit.fake_llm.server import FakeLLMServer

MARKER = (
    "fake_llm(strict=True, allow_unused=False, default=None, base_urls=(), embedding_dimensions=16, "
    "refuse_real_hosts=True, provider_urls=True): options for the fake_llm and fake_llm_server "
    "fixtures of agent_testkit"
)
MARKER_OPTIONS = {
    "strict",
    "allow_unused",
    "default",
    "base_urls",
    "embedding_dimensions",
    "refuse_real_hosts",
    "provider_urls",
}
PLACEHOLDER_KEYS = {"OPENAI_API_KEY": "sk-fake-llm", "ANTHROPIC_API_KEY": "sk-ant-fake-llm"}
"""Set for the test when unset, so an SDK client built with its defaults can be made at all."""
pytest_plugins = ["agent_testkit.cassettes.pytest_plugin"]


class Checked(Protocol):
    """Anything checked after each test: a fake, a cassette."""

    def problems(self) -> list[str]: ...


FAKES = pytest.StashKey[list[Checked]]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("agent-testkit", "agent_testkit: the scripted fake LLM")
    group.addoption(
        "--fake-llm-base-url",
        dest="fake_llm_base_url",
        default=None,
        help=f"base URL the in-process fake_llm answers (default {DEFAULT_BASE_URL})",
    )
    group.addoption(
        "--fake-llm-allow-real-hosts",
        dest="fake_llm_allow_real_hosts",
        action="store_true",
        default=False,
        help="do not refuse requests to real LLM hosts while a fake is active",
    )
    parser.addini(
        "fake_llm_base_url", "base URL the in-process fake_llm answers", default=DEFAULT_BASE_URL
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)


def _options(request: pytest.FixtureRequest) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for marker in reversed(list(request.node.iter_markers("fake_llm"))):  # closest marker wins
        if marker.args:
            raise pytest.UsageError("@pytest.mark.fake_llm takes keyword arguments only")
        unknown = set(marker.kwargs) - MARKER_OPTIONS
        if unknown:
            raise pytest.UsageError(
                f"@pytest.mark.fake_llm got unknown option(s) {sorted(unknown)}"
            )
        options.update(marker.kwargs)
    if request.config.getoption("fake_llm_allow_real_hosts"):
        options["refuse_real_hosts"] = False
    return options


def track_problems(request: pytest.FixtureRequest, checked: Checked) -> None:
    """Fail the test after its call when `checked.problems()` is not empty (or add them to its failure)."""
    request.node.stash.setdefault(FAKES, []).append(checked)


@pytest.fixture
def fake_llm(request: pytest.FixtureRequest) -> Iterator[FakeLLM]:
    """A scripted fake LLM answering in-process, for httpx and httpx2 clients: at `fake_llm.base_url`
    and, with no configuration at all, at the OpenAI and Anthropic default base URLs (whose SDKs get a
    placeholder API key from the environment when none is set)."""
    options = _options(request)
    base_url = request.config.getoption("fake_llm_base_url") or request.config.getini(
        "fake_llm_base_url"
    )
    refuse_real_hosts = options.get("refuse_real_hosts", True)
    provider_urls = options.get("provider_urls", refuse_real_hosts)
    fake = FakeLLM(
        base_url=base_url,
        strict=options.get("strict", True),
        allow_unused=options.get("allow_unused", False),
        default=options.get("default"),
        embedding_dimensions=options.get("embedding_dimensions", 16),
        provider_urls=provider_urls,
    )
    fake.intercept(*options.get("base_urls", ()))
    interception = install(fake, refuse_real_hosts=refuse_real_hosts)
    track_problems(request, fake)
    with pytest.MonkeyPatch.context() as env:
        if provider_urls:
            for name, placeholder in PLACEHOLDER_KEYS.items():
                if not os.environ.get(name):
                    env.setenv(name, placeholder)
        try:
            yield fake
        finally:
            try:
                flush_buffered_telemetry()
            finally:
                uninstall(interception)


def flush_buffered_telemetry() -> None:
    """Deliver what clients buffer for later (openai-agents' traces) while the fake still answers.

    Otherwise the export happens after the test, or at exit, against the real host: failing, retrying,
    and slowing the run's end. Only a client already imported is flushed.
    """
    agents = sys.modules.get("agents")
    flush = getattr(agents, "flush_traces", None)
    if callable(flush):
        flush()


@pytest.fixture(scope="session")
def _fake_llm_server_session() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(allow_unused=True) as server:
        yield server


@pytest.fixture
def fake_llm_server(
    request: pytest.FixtureRequest, _fake_llm_server_session: FakeLLMServer
) -> Iterator[FakeLLMServer]:
    """The fake served on 127.0.0.1 (one server per session, emptied for each test); use `.base_url`."""
    server = _fake_llm_server_session
    options = _options(request)
    server.reset()
    server.strict = options.get("strict", True)
    server.allow_unused = options.get("allow_unused", False) or not server.strict
    server.embedding_dimensions = options.get("embedding_dimensions", 16)
    server.default = options.get("default") or FakeLLM.reply(DEFAULT_REPLY)
    track_problems(request, server)
    yield server
    server.reset()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """Fail the test itself (not its teardown) when a fake saw a problem, or add them to its failure."""
    try:
        result = yield
    except BaseException as exc:
        for problem in _problems(item):
            exc.add_note(problem)
        raise
    problems = _problems(item)
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    return result


def _problems(item: pytest.Item) -> list[str]:
    return [problem for fake in item.stash.get(FAKES, []) for problem in fake.problems()]
