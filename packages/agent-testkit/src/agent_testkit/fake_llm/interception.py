"""Which requests the in-process fake answers: httpx and httpx2 clients, sync and async, and aiohttp
clients (`aiohttp_interception`), made before or after the fake.

Like respx, we patch the network layer, not clients: `HTTPTransport.handle_request` and
`AsyncHTTPTransport.handle_async_request` of both httpx and httpx2 (the openai SDK >= 3 default). Every
client whose requests would reach the network goes through them, whenever it was built; clients on
their own transports (`httpx.ASGITransport`, `MockTransport`) never do, so an app's own test traffic
passes untouched. A request to one of the fake's base URLs (by default including the OpenAI and
Anthropic ones) is answered by the fake's ASGI app; one to another known real LLM host is refused;
anything else goes on to the original method. A network guard (`install_guard`, the pytest plugin's)
keeps the patches on for a whole session and refuses real LLM hosts when no fake is active.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import httpx2

from agent_testkit.fake_llm import aiohttp_interception
from agent_testkit.fake_llm.fake import FakeLLM
from agent_testkit.fake_llm.transports import respond_async, respond_sync

REAL_LLM_HOSTS = (
    "api.openai.com",
    "api.anthropic.com",
    "generativelanguage.googleapis.com",
    "aiplatform.googleapis.com",
    "api.mistral.ai",
    "api.groq.com",
    "openrouter.ai",
    "api.together.xyz",
    "api.together.ai",
    "api.deepseek.com",
    "api.cohere.ai",
    "api.cohere.com",
    "api.fireworks.ai",
    "api.perplexity.ai",
    "api.x.ai",
)
REAL_LLM_HOST_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com")
DEFAULT_PORTS = {"http": 80, "https": 443}


class RealLLMHostRefused(Exception):
    """Marker base; the raised error is also the client library's ConnectError."""


class Guard(Protocol):
    """Refuses real LLM hosts while no fake is active (see `agent_testkit.network_guard`)."""

    def refusing(self) -> bool: ...

    def refuse(self, url: str) -> BaseException: ...


@dataclass(frozen=True)
class _Target:
    fake: FakeLLM
    root_path: str


@dataclass(frozen=True)
class Interception:
    """A handle returned by `install`, given back to `uninstall`."""

    fake: FakeLLM
    refuse_real_hosts: bool


class _Registry:
    """The active fakes, and the patched methods, installed while at least one fake is active."""

    def __init__(self) -> None:
        self.active: list[Interception] = []
        self.guards: list[Guard] = []
        self.lock = threading.Lock()
        self.originals: dict[tuple[type, str], Any] = {}

    def route(self, url: httpx.URL | httpx2.URL) -> _Target | str | None:
        """The fake answering `url`, "refuse" for a real LLM host while a fake is active, "guard" for one
        while none is (and no cassette is), or None to pass it through."""
        port = url.port or DEFAULT_PORTS.get(url.scheme)
        refuse = False
        for interception in self.active:
            for base in interception.fake.base_urls:
                parts = urlsplit(base)
                base_port = parts.port or DEFAULT_PORTS.get(parts.scheme)
                prefix = parts.path.rstrip("/")
                if (parts.scheme, parts.hostname, base_port) == (url.scheme, url.host, port) and (
                    url.path == prefix or url.path.startswith(prefix + "/")
                ):
                    return _Target(interception.fake, prefix)
            refuse = refuse or interception.refuse_real_hosts
        if not is_real_llm_host(url.host):
            return None
        if refuse:
            return "refuse"
        if (
            not self.active
            and self.guards
            and self.guards[-1].refusing()
            and not _cassette_active()
        ):
            return "guard"
        return None

    def refuse(self, url: str) -> None:
        for interception in self.active:
            if interception.refuse_real_hosts:
                interception.fake.record_refusal(url)


REGISTRY = _Registry()


def is_real_llm_host(host: str) -> bool:
    return host in REAL_LLM_HOSTS or host.endswith(REAL_LLM_HOST_SUFFIXES)


def _cassette_active() -> bool:
    """A cassette replays or records real hosts itself (imported late: cassettes import this module)."""
    from agent_testkit.cassettes.interception import REGISTRY as CASSETTES

    return bool(CASSETTES.active)


def kit_claims(url: httpx.URL) -> bool:
    """Whether the kit answers, refuses or replays `url` (asked by transports other than httpx's)."""
    if REGISTRY.route(url) is not None:
        return True
    from agent_testkit.cassettes.interception import REGISTRY as CASSETTES

    return CASSETTES.cassette_for(url) is not None


def install(fake: FakeLLM, *, refuse_real_hosts: bool = True) -> Interception:
    """Start answering `fake.base_urls` in-process (patching on the first active fake)."""
    interception = Interception(fake, refuse_real_hosts)
    with REGISTRY.lock:
        _patch_all()
        REGISTRY.active.append(interception)
    return interception


def uninstall(interception: Interception | None) -> None:
    """Stop answering for that fake (unpatching when it was the last)."""
    with REGISTRY.lock:
        if interception in REGISTRY.active:
            REGISTRY.active.remove(interception)
        _unpatch_unused()


def install_guard(guard: Guard) -> None:
    """Keep every transport patched until `uninstall_guard`, refusing real LLM hosts as `guard` says."""
    with REGISTRY.lock:
        _patch_all()
        REGISTRY.guards.append(guard)


def uninstall_guard(guard: Guard) -> None:
    with REGISTRY.lock:
        if guard in REGISTRY.guards:
            REGISTRY.guards.remove(guard)
        _unpatch_unused()


def _unpatch_unused() -> None:
    if not REGISTRY.active and not REGISTRY.guards:
        _unpatch_all()


def _patch_all() -> None:
    if REGISTRY.originals:
        return
    aiohttp_interception.patch(kit_claims)
    for module in (httpx, httpx2):
        sync_cls, async_cls = module.HTTPTransport, module.AsyncHTTPTransport
        REGISTRY.originals[(sync_cls, "handle_request")] = sync_cls.handle_request
        REGISTRY.originals[(async_cls, "handle_async_request")] = async_cls.handle_async_request
        sync_cls.handle_request = _sync_handler(module, sync_cls.handle_request)
        async_cls.handle_async_request = _async_handler(module, async_cls.handle_async_request)


def _unpatch_all() -> None:
    aiohttp_interception.unpatch()
    for (cls, name), original in REGISTRY.originals.items():
        setattr(cls, name, original)
    REGISTRY.originals.clear()


def _sync_handler(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    def handle_request(self: Any, request: Any) -> Any:
        target = REGISTRY.route(request.url)
        if target is None:
            return original(self, request)
        if isinstance(target, str):
            raise _refusal(module, request, target)
        body = request.read()
        return respond_sync(module, request, target.fake.app, target.root_path, body)

    return handle_request


def _async_handler(module: ModuleType, original: Callable[..., Any]) -> Callable[..., Any]:
    async def handle_async_request(self: Any, request: Any) -> Any:
        target = REGISTRY.route(request.url)
        if target is None:
            return await original(self, request)
        if isinstance(target, str):
            raise _refusal(module, request, target)
        body = await request.aread()
        return await respond_async(module, request, target.fake.app, target.root_path, body)

    return handle_async_request


def _refusal(module: ModuleType, request: Any, kind: str) -> BaseException:
    url = str(request.url)
    if kind == "guard":
        return REGISTRY.guards[-1].refuse(url)
    REGISTRY.refuse(url)
    fakes = [i.fake.base_url for i in REGISTRY.active]
    message = (
        f"agent_testkit refused a request to the real LLM host {request.url.host!r} ({url}): tests never "
        f"reach a real model. Point the app at the fake LLM ({', '.join(fakes)}), or answer this URL "
        "too with fake_llm.intercept(...) or @pytest.mark.fake_llm(base_urls=[...])."
    )
    error: Exception = type("RealLLMHostRefused", (module.ConnectError, RealLLMHostRefused), {})(
        message, request=request
    )
    return error
