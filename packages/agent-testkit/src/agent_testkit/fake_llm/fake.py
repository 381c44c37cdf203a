"""`FakeLLM`: the script, the recorded calls and the strictness rules, shared by both transports."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from starlette.responses import Response
from starlette.routing import Router

from agent_testkit.fake_llm import routes
from agent_testkit.fake_llm import script as items
from agent_testkit.fake_llm.app import create_app
from agent_testkit.fake_llm.checks import mismatch
from agent_testkit.fake_llm.dialects import CHAT, Dialect
from agent_testkit.fake_llm.normalize import Api
from agent_testkit.fake_llm.recording import RecordedCall
from agent_testkit.fake_llm.script import Respond, Script, ScriptItem, ServerError

DEFAULT_BASE_URL = "http://fake-llm.test/v1"
PROVIDER_BASE_URLS = (
    "https://api.openai.com",
    "https://api.anthropic.com",
    "https://generativelanguage.googleapis.com",
)
"""Answered in-process too, unless `provider_urls=False`: an app on an SDK's defaults needs no setup."""
DEFAULT_REPLY = "This is the fake LLM's default reply."
MAX_RESPOND_DEPTH = 10


@dataclass(frozen=True)
class StoredResponse:
    """A Responses API answer the fake gave: the conversation it ends and its JSON body."""

    conversation: list[Any]
    body: bytes


class FakeLLM:
    """A scripted LLM. Point the app at `base_url` (or keep the SDK's default), script the turns, assert
    on `calls`.

    One script answers every wire format: OpenAI Chat Completions, the Responses API and Anthropic's
    Messages API, each call taking the next item. In-process it also answers `PROVIDER_BASE_URLS`.
    Strict by default: a call beyond the script, a script item left unused and a request to a route the
    fake does not implement are problems that `verify()` (run by the pytest plugin after each test)
    turns into a failure. `strict=False` answers extra calls with `default` and ignores unused items;
    `allow_unused=True` ignores only the latter. Each scripted answer is checked against its request
    (`checks`): a tool the request did not offer, arguments or structured output that do not fit the
    schema fail the test; `unchecked=True` on an item, or `checked=False` here, lets them through.
    """

    reply = staticmethod(items.reply)
    tool_call = staticmethod(items.tool_call)
    tool_calls = staticmethod(items.tool_calls)
    respond = staticmethod(items.respond)
    rate_limited = staticmethod(items.rate_limited)
    server_error = staticmethod(items.server_error)
    timeout = staticmethod(items.timeout)
    disconnect = staticmethod(items.disconnect)
    cut_stream = staticmethod(items.cut_stream)
    malformed_sse = staticmethod(items.malformed_sse)
    malformed = staticmethod(items.malformed)
    overloaded = staticmethod(items.overloaded)

    def __init__(
        self,
        *,
        base_url: str = DEFAULT_BASE_URL,
        strict: bool = True,
        allow_unused: bool = False,
        default: ScriptItem | None = None,
        embedding_dimensions: int = 16,
        model_names: tuple[str, ...] = ("fake-model", "fake-embedding"),
        provider_urls: bool = True,
        checked: bool = True,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.base_urls: list[str] = [self.base_url]
        if provider_urls:
            self.intercept(*PROVIDER_BASE_URLS)
        self.strict = strict
        self.checked = checked
        self.allow_unused = allow_unused or not strict
        self.default = default if default is not None else items.reply(DEFAULT_REPLY)
        self.embedding_dimensions = embedding_dimensions
        self.model_names = list(model_names)
        self.calls: list[RecordedCall] = []
        self.embedding_calls: list[dict[str, Any]] = []
        self.unexpected_calls: list[RecordedCall] = []
        self.refused: list[str] = []
        self.errors: list[str] = []
        self.unknown_routes: list[str] = []
        self.telemetry: list[tuple[str, bytes]] = []
        self.routes: list[routes.ScriptedRoute] = []
        self.route_calls: list[routes.RouteCall] = []
        self.files: dict[str, routes.StoredFile] = {}
        self.batches: dict[str, dict[str, Any]] = {}
        self._responses: dict[str, StoredResponse] = {}
        self._script = Script()
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._interception: Any = None
        self.app: Router = create_app(self)

    def __repr__(self) -> str:
        return f"<FakeLLM {self.base_url} calls={len(self.calls)} left={len(self._script.remaining())}>"

    # -- script -----------------------------------------------------------------------------------

    def script(self, *script_items: ScriptItem) -> FakeLLM:
        """Append items; each chat completion call consumes the next one, in order."""
        self._script.extend(script_items)
        return self

    def route(
        self,
        spec: str,
        *,
        json: Any = None,
        body: bytes | str | None = None,
        respond: Callable[[routes.RouteCall], Any] | None = None,
        status: int = 200,
        content_type: str | None = None,
    ) -> FakeLLM:
        """Answer another OpenAI route: `route("files")` (a family: moderations, images, audio, files,
        batches) or `route("POST /v1/moderations")` with its realistic default, or with `json=`, `body=`
        or `respond=lambda call: ...` (a `RouteCall`; return JSON data, bytes or a Response). The route
        answers every request to it until the test ends; each is recorded in `route_calls`."""
        raw = body.encode() if isinstance(body, str) else body
        added = routes.build(
            spec,
            json_body=json,
            body=raw,
            respond=respond,
            status=status,
            content_type=content_type,
        )
        with self._lock:
            self.routes[:0] = added  # the latest wins
        return self

    def scripted_route(
        self, method: str, path: str
    ) -> tuple[routes.ScriptedRoute, dict[str, str]] | None:
        with self._lock:
            for route in self.routes:
                params = route.match(method, routes.strip_version(path))
                if params is not None:
                    return route, params
        return None

    @property
    def remaining(self) -> list[ScriptItem]:
        """Items not used yet."""
        return [item for _, item in self._script.remaining()]

    def reset(self) -> None:
        """Forget the script, the calls and the problems (the interception stays)."""
        self._script.clear()
        with self._lock:
            for collected in (
                self.calls,
                self.embedding_calls,
                self.unexpected_calls,
                self.refused,
                self.errors,
                self.unknown_routes,
                self.telemetry,
                self.routes,
                self.route_calls,
            ):
                collected.clear()
            self._responses.clear()
            self.files.clear()
            self.batches.clear()

    # -- called by the app ----------------------------------------------------------------------------

    def take_turn(
        self,
        request: dict[str, Any],
        *,
        path: str,
        headers: dict[str, str],
        api: Api = "chat",
        history: list[dict[str, Any]] | None = None,
    ) -> tuple[ScriptItem | None, RecordedCall]:
        """Record the call and return the item answering it (None: beyond a strict script)."""
        with self._lock:
            call = RecordedCall(len(self.calls), request, path=path, headers=headers, api=api)
            call.history = list(history or [])
            self.calls.append(call)
        item = self._script.pop()
        if item is None:
            if self.strict:
                with self._lock:
                    self.unexpected_calls.append(call)
                return None, call
            call.item = self._resolve(self.default, call)
            return call.item, call
        call.item = self._resolve(item, call)
        if self.checked and (found := mismatch(call.item, call)):
            # a 400, which no SDK retries: the app sees the call fail, and the test fails at its end
            call.item = self._error(found, status=400)
        return call.item, call

    def _resolve(self, item: ScriptItem, call: RecordedCall) -> ScriptItem:
        for _ in range(MAX_RESPOND_DEPTH):
            if not isinstance(item, Respond):
                return item
            try:
                item = item.fn(call)
            except Exception as exc:
                return self._error(f"{item.describe()} raised {exc!r} on call {call.number}")
            if not isinstance(item, items.SCRIPT_ITEM_TYPES):
                return self._error(
                    f"respond() returned {item!r} on call {call.number}: not a script item"
                )
        return self._error(
            f"respond() nested more than {MAX_RESPOND_DEPTH} deep on call {call.number}"
        )

    def _error(self, message: str, *, status: int = 500) -> ServerError:
        with self._lock:
            self.errors.append(message)
        return ServerError(status, f"agent_testkit fake LLM: {message}")

    def next_number(self) -> int:
        """A number for the ids of one answer (completion, response, message, tool calls)."""
        return next(self._ids)

    def unexpected_call_response(self, call: RecordedCall, dialect: Dialect = CHAT) -> Response:
        scripted = len(self.calls) - len(self.unexpected_calls)
        message = (
            f"agent_testkit fake LLM: call {call.number} is beyond the script ({scripted} item(s) scripted). "
            "Add answers with fake_llm.script(...), or mark the test @pytest.mark.fake_llm(strict=False)."
        )
        return dialect.error(500, message, kind="exhausted", headers={"x-should-retry": "false"})

    def store_response(self, response_id: str, *, conversation: list[Any], body: bytes) -> None:
        """Keep a Responses API answer, for `previous_response_id` and `GET /v1/responses/{id}`."""
        with self._lock:
            self._responses[response_id] = StoredResponse(conversation, body)

    def stored_response(self, response_id: str) -> StoredResponse | None:
        with self._lock:
            return self._responses.get(response_id)

    def record_unknown_route(self, method: str, path: str, body: bytes) -> None:
        with self._lock:
            self.unknown_routes.append(f"{method} {path}")

    def record_route_call(self, call: routes.RouteCall) -> None:
        with self._lock:
            self.route_calls.append(call)

    def record_telemetry(self, path: str, body: bytes) -> None:
        with self._lock:
            self.telemetry.append((path, body))

    def record_embedding(self, request: dict[str, Any]) -> None:
        with self._lock:
            self.embedding_calls.append(request)

    def record_refusal(self, url: str) -> None:
        with self._lock:
            if url not in self.refused:  # an SDK's retries are one refusal, said once
                self.refused.append(url)

    # -- strictness -----------------------------------------------------------------------------------

    def problems(self) -> list[str]:
        """Every reason the test should fail, one readable paragraph each."""
        found = [
            "fake LLM got a call beyond the script:\n" + call.summary(of=len(self.calls))
            for call in self.unexpected_calls
        ]
        if not self.allow_unused:
            found += [
                f"fake LLM script item {position} was never used: {item.describe()}"
                for position, item in self._script.remaining()
            ]
        found += [
            f"a request to a real LLM host was refused: {url} (point the app at {self.base_url!r})"
            for url in self.refused
        ]
        found += [
            f"fake LLM got a request to a route it does not implement: {route}"
            for route in self.unknown_routes
        ]
        found += [f"fake LLM error: {message}" for message in self.errors]
        return found

    def verify(self) -> None:
        """Raise AssertionError listing every problem, if there is any."""
        found = self.problems()
        if found:
            raise AssertionError("\n".join(found))

    # -- in-process interception ------------------------------------------------------------------------

    def intercept(self, *base_urls: str) -> FakeLLM:
        """Also answer requests to these base URLs (e.g. "https://api.openai.com/v1")."""
        for url in base_urls:
            if url.rstrip("/") not in self.base_urls:
                self.base_urls.append(url.rstrip("/"))
        return self

    def __enter__(self) -> FakeLLM:
        from agent_testkit.fake_llm.interception import install

        self._interception = install(self)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        from agent_testkit.fake_llm.interception import uninstall

        uninstall(self._interception)
        self._interception = None
        if exc_type is None:
            self.verify()
