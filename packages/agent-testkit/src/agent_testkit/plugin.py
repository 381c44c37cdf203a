"""pytest plugin (entry point `pytest11`): the `fake_llm` and `fake_llm_server` fixtures, the `fake_llm`
marker, the "agent-testkit" option group, and the strictness check after each test. Cassettes (the
`cassette` marker and fixture, `--record-mode`) come from `agent_testkit.cassettes.pytest_plugin`.

From session start (before any test module is imported) it sets placeholder provider keys where unset,
so clients built at import can be built, and installs the network guard (`agent_testkit.network_guard`)."""

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
from agent_testkit.network_guard import ALLOW_MARKER, NetworkGuard

MARKER = (
    "fake_llm(strict=True, allow_unused=False, default=None, base_urls=(), embedding_dimensions=16, "
    "refuse_real_hosts=True, provider_urls=True, checked=True): options for the fake_llm and fake_llm_server "
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
    "checked",
}
PLACEHOLDER_KEYS = {"OPENAI_API_KEY": "sk-fake-llm", "ANTHROPIC_API_KEY": "sk-ant-fake-llm"}
"""Set for the test when unset, so an SDK client built with its defaults can be made at all."""
SESSION_PLACEHOLDERS = {
    **PLACEHOLDER_KEYS,
    "GEMINI_API_KEY": "fake-llm-gemini-key",
    "GOOGLE_API_KEY": "fake-llm-google-key",
    "MISTRAL_API_KEY": "fake-llm-mistral-key",
    "GROQ_API_KEY": "gsk-fake-llm",
    "COHERE_API_KEY": "fake-llm-cohere-key",
    "DEEPSEEK_API_KEY": "sk-fake-llm",
    "OPENROUTER_API_KEY": "sk-or-fake-llm",
    "TOGETHER_API_KEY": "fake-llm-together-key",
    "XAI_API_KEY": "xai-fake-llm",
    "LITELLM_LOCAL_MODEL_COST_MAP": "True",
}
"""Set for the whole session, where unset, before test modules are imported (`--no-llm-placeholder-keys`
turns it off): clients built at import (`OpenAI()`, `Agent("openai:...")`) need a key to exist, and
litellm would fetch its cost map from the network at import without the last one."""
ALLOW_MARKER_LINE = f"{ALLOW_MARKER}: let this test reach real LLM hosts that no fake or cassette answers (recording)"
GUARD = pytest.StashKey[NetworkGuard]()
SET_ENV = pytest.StashKey[list[str]]()
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
    group.addoption(
        "--allow-llm-network",
        dest="allow_llm_network",
        action="store_true",
        default=False,
        help="lift the network guard: requests to real LLM hosts outside fake_llm or a cassette pass",
    )
    group.addoption(
        "--no-llm-placeholder-keys",
        dest="llm_placeholder_keys",
        action="store_false",
        default=True,
        help="do not set placeholder provider API keys (OPENAI_API_KEY, ...) at session start",
    )
    parser.addini(
        "fake_llm_base_url", "base URL the in-process fake_llm answers", default=DEFAULT_BASE_URL
    )
    parser.addini(
        "llm_placeholder_keys",
        "set placeholder provider API keys where unset at session start",
        type="bool",
        default=True,
    )


@pytest.hookimpl(tryfirst=True)
def pytest_load_initial_conftests(early_config: pytest.Config) -> None:
    """Before any conftest or test module is imported: placeholder keys, then the guard."""
    _start_session(early_config, early_config.known_args_namespace)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", MARKER)
    config.addinivalue_line("markers", ALLOW_MARKER_LINE)
    _start_session(
        config, config.option
    )  # when loaded late (-p, a conftest), not from the entry point


def _start_session(config: pytest.Config, options: Any) -> None:
    if GUARD in config.stash:
        return
    config.stash[SET_ENV] = []
    if options.llm_placeholder_keys and config.getini("llm_placeholder_keys"):
        for name, value in SESSION_PLACEHOLDERS.items():
            if not os.environ.get(name):
                os.environ[name] = value
                config.stash[SET_ENV].append(name)
    config.stash[GUARD] = NetworkGuard(enabled=not options.allow_llm_network).__enter__()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Leave the process as found (pytester runs sessions inside one process)."""
    guard = config.stash.get(GUARD, None)
    if guard is not None:
        guard.__exit__()
    for name in config.stash.get(SET_ENV, []):
        os.environ.pop(name, None)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    guard = item.config.stash.get(GUARD, None)
    if guard is not None:
        guard.begin(item.nodeid, lifted=item.get_closest_marker(ALLOW_MARKER) is not None)


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> None:
    guard = item.config.stash.get(GUARD, None)
    if guard is not None:
        guard.end()


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
    """A scripted fake LLM answering in-process, for httpx, httpx2 and aiohttp clients: at `fake_llm.base_url`
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
        checked=options.get("checked", True),
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
    server.checked = options.get("checked", True)
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
    guard = item.config.stash.get(GUARD, None)
    if guard is not None:
        problems += guard.problems()  # a refusal the app swallowed
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    return result


def _problems(item: pytest.Item) -> list[str]:
    return [problem for fake in item.stash.get(FAKES, []) for problem in fake.problems()]
