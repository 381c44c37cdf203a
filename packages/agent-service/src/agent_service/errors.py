"""The one error tree and the one handler: every error leaves as `{"error", "detail"}`.

    AppError
    ├── InvalidRequest   400
    ├── Unauthenticated  401
    ├── Forbidden        403
    ├── NotFound         404
    ├── Conflict         409
    ├── PayloadTooLarge  413
    ├── UnsupportedMediaType 415
    ├── RateLimited      429
    ├── InternalError    500
    └── UpstreamError    502/503 (what failed outside us)
        └── DatabaseBusy 503 database_busy (locked, unreachable, restarting, pool exhausted)

Domain errors subclass these; services raise them and never `HTTPException`.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Mapping
from typing import Any, ClassVar

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SQLAlchemyTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("agent_service.errors")


class AppError(Exception):
    """Base of every error a client may see; `code` is stable, `detail` is for a person."""

    status_code: ClassVar[int] = 500
    code: ClassVar[str] = "internal_error"

    def __init__(self, detail: str, *, headers: dict[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = headers

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail}


class InvalidRequest(AppError):
    status_code = 400
    code = "invalid_request"


class Unauthenticated(AppError):
    status_code = 401
    code = "unauthenticated"

    def __init__(self, detail: str = "Authentication is required: send a bearer token.") -> None:
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer"})


class Forbidden(AppError):
    status_code = 403
    code = "forbidden"


class NotFound(AppError):
    status_code = 404
    code = "not_found"


class Conflict(AppError):
    status_code = 409
    code = "conflict"


class PayloadTooLarge(AppError):
    status_code = 413
    code = "payload_too_large"


class RequestTooLarge(PayloadTooLarge):
    code = "request_too_large"

    def __init__(self, max_bytes: int) -> None:
        super().__init__(
            f"The request body is larger than {max_bytes} bytes; send a smaller one "
            "(files go to POST /api/documents)."
        )


class UnsupportedMediaType(AppError):
    status_code = 415
    code = "unsupported_media_type"


class RateLimited(AppError):
    status_code = 429
    code = "rate_limited"


class InternalError(AppError):
    status_code = 500
    code = "internal_error"


class UpstreamError(AppError):
    status_code = 503
    code = "upstream_error"


class DatabaseBusy(UpstreamError):
    """The database cannot answer now: a client should retry after Retry-After seconds."""

    code = "database_busy"

    def __init__(self, detail: str, *, retry_after_s: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after_s)})


_LOCKED = ("database is locked", "database table is locked", "database schema is locked")


def database_unavailable(exc: BaseException) -> DatabaseBusy | None:
    """The 503 to answer when `exc` (or what caused it, or a member of its group) says the
    database is locked, unreachable, restarting or out of connections; None for anything else.

    On PostgreSQL every driver OperationalError is such a state (connection refused or reset,
    server shutting down or starting, too many connections, a statement cancelled or
    deadlocked); on SQLite only a lock is (its OperationalError also means a bad statement).
    """
    for cause in _causes(exc):
        if isinstance(cause, SQLAlchemyTimeoutError):
            return DatabaseBusy(
                "The database is busy: all its connections are taken; retry in a moment."
            )
        if _locked(cause):
            return DatabaseBusy(
                "The database is busy: another writer holds its lock; retry in a moment."
            )
        if _unreachable(cause):
            return DatabaseBusy(
                "The database is not reachable right now (restarting or cut off); "
                "retry in a few seconds.",
                retry_after_s=5,
            )
    return None


def _causes(exc: BaseException, depth: int = 0) -> list[BaseException]:
    """`exc`, the leaves of an exception group, and their causes and contexts (bounded)."""
    if depth > 8:
        return []
    found = [exc]
    if isinstance(exc, BaseExceptionGroup):
        for member in exc.exceptions:
            found += _causes(member, depth + 1)
    linked = exc.__cause__ or exc.__context__
    if linked is not None:
        found += _causes(linked, depth + 1)
    return found


def _locked(exc: BaseException) -> bool:
    message = str(exc.orig if isinstance(exc, DBAPIError) else exc)
    is_operational = isinstance(exc, (OperationalError, sqlite3.OperationalError))
    return is_operational and any(text in message for text in _LOCKED)


def _unreachable(exc: BaseException) -> bool:
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, (OperationalError, InterfaceError)):
        return isinstance(exc.orig, (psycopg.OperationalError, psycopg.InterfaceError))
    return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


_STATUS_CODES = {
    400: "invalid_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_response(
    status_code: int, body: dict[str, Any], headers: Mapping[str, str] | None = None
) -> JSONResponse:
    return JSONResponse(body, status_code=status_code, headers=headers)


async def _app_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    if exc.status_code == 500 and (busy := database_unavailable(exc)) is not None:
        exc = busy  # an internal error that the database's state caused: retry, don't report
    return error_response(exc.status_code, exc.body(), exc.headers)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _STATUS_CODES.get(exc.status_code, "http_error")
    headers = exc.headers
    if exc.status_code == 404:
        detail = "No such route or resource."
    elif exc.status_code == 405:
        allowed = allowed_methods(request)
        detail = f"This method is not allowed on this route; use {allowed}."
        headers = {**(headers or {}), "Allow": allowed}
    else:
        detail = str(exc.detail)
    return error_response(exc.status_code, {"error": code, "detail": detail}, headers)


_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> str:
    """Every method some route of this path answers (Starlette's Allow names one route's)."""
    allowed = []
    for method in _METHODS:
        probe = {**_probe_scope(request.scope), "method": method}
        if any(route.matches(probe)[0] is Match.FULL for route in request.app.router.routes):
            allowed.append(method)
    return ", ".join(allowed)


def _probe_scope(scope: Scope) -> Scope:
    return {"type": "http", "path": scope["path"], "root_path": scope.get("root_path", "")}


def _field_path(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "cookie")]
    return ".".join(parts) or str(loc[0] if loc else "request")


async def _validation_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [{"field": _field_path(tuple(e["loc"])), "message": e["msg"]} for e in exc.errors()]
    first = errors[0] if errors else {"field": "request", "message": "invalid"}
    detail = f"Invalid request: {first['field']!r}: {first['message']}."
    if len(errors) > 1:
        detail += f" ({len(errors) - 1} more)"
    body = {"error": "validation_error", "detail": detail, "errors": errors}
    return error_response(422, body)


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    if (busy := database_unavailable(exc)) is not None:
        logger.warning("database busy on %s %s: %s", request.method, request.url.path, busy.detail)
        return error_response(busy.status_code, busy.body(), busy.headers)
    logger.error(
        "unhandled error on %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"request_id": request_id},
    )
    body = {
        "error": "internal_error",
        "detail": (
            f"Something went wrong on our side. Quote request id {request_id!r} to report it."
        ),
    }
    return error_response(500, body, {"X-Request-ID": request_id} if request_id else None)


class UnhandledErrors:
    """Renders an unexpected exception as the 500 envelope on a connection that stays open.

    Starlette's `ServerErrorMiddleware` (where an `Exception` handler would go) re-raises after
    answering, and uvicorn then closes the connection: a keep-alive client saw a reset after a 500.
    Here the exception ends with the answer, as any other error does.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            if started:  # too late for a status: let the server end the broken response
                raise
            response = await _unhandled_error(Request(scope, receive), exc)
            del response.headers["x-request-id"]  # RequestIdMiddleware, outside, adds it
            await response(scope, receive, send)


def install_error_handlers(app: FastAPI) -> None:
    """One handler per family, found by class hierarchy; the unexpected ones by `UnhandledErrors`
    (innermost middleware), and by Starlette's last resort if a middleware itself fails."""
    app.add_exception_handler(AppError, _app_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unhandled_error)
    app.add_middleware(UnhandledErrors)
