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

Domain errors subclass these; services raise them and never `HTTPException`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
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


def _is_database_busy(exc: Exception) -> bool:
    """SQLite gave up waiting for its write lock (busy_timeout passed under heavy writes), or no
    pooled connection freed up within DB_POOL_TIMEOUT_S."""
    if isinstance(exc, SQLAlchemyTimeoutError):
        return True
    return isinstance(exc, OperationalError) and "database is locked" in str(exc.orig)


async def _unhandled_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    if _is_database_busy(exc):
        logger.warning("database busy on %s %s", request.method, request.url.path)
        body = {
            "error": "database_busy",
            "detail": "The database is busy (its connections or its write lock are all taken); "
            "retry in a moment.",
        }
        return error_response(503, body, {"Retry-After": "1"})
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
