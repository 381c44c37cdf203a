"""The published OpenAPI tells the truth about errors, from one place instead of every route.

FastAPI documents a route's success and a 422 shaped like its own `{"detail": [...]}`, which this
service never sends. After FastAPI builds the document, every operation gets the statuses it can
really answer, each with the one envelope (`{"error", "detail"}`, plus `errors` for 422):

- authenticated: 401 (no, bad or revoked token) and 403 (disabled account, not yours, admins only);
  log in: 401 and 403 (unverified or disabled account); a webhook: 400, 401 (bad signature),
  413; an upload: 415
- a path parameter or a body that names other resources: 404
- a body: 400 (a rule the schema cannot say, or an unparsable body), 413 (`MAX_JSON_BYTES`), 422
- any parameter: 422
- an authenticated POST: 409 (busy conversation, run in progress, idempotency key in use...)
- a chat, ask or resume (a model call): 429, 502 and 503
- everything that touches the database: 503 (`database_busy`, with Retry-After)
- every operation: 400 (a Host that TRUSTED_HOSTS does not name) and 431 (too many or too large
  headers), both from `headers.py`
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

ERROR = "ErrorBody"
VALIDATION_ERROR = "ValidationErrorBody"

_SCHEMAS: dict[str, dict[str, Any]] = {
    ERROR: {
        "title": ERROR,
        "type": "object",
        "description": "Every error: a stable snake_case code and a sentence for a person.",
        "properties": {"error": {"type": "string"}, "detail": {"type": "string"}},
        "required": ["error", "detail"],
    },
    VALIDATION_ERROR: {
        "title": VALIDATION_ERROR,
        "type": "object",
        "description": "422: the envelope plus one entry per invalid field.",
        "properties": {
            "error": {"type": "string", "enum": ["validation_error"]},
            "detail": {"type": "string"},
            "errors": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    "required": ["field", "message"],
                },
            },
        },
        "required": ["error", "detail", "errors"],
    },
}

_DESCRIPTIONS = {
    400: "A rule the schema cannot express was broken, the body could not be parsed, or the "
    "Host is not one TRUSTED_HOSTS names (`untrusted_host`).",
    401: "Missing, invalid, expired or revoked credentials.",
    403: "Not allowed: another user's account, admins only, or a disabled account.",
    404: "Not found (an unknown or malformed id, or another user's resource).",
    409: "Conflicts with the current state (busy conversation, run in progress, key in use).",
    413: "The request body is larger than the limit.",
    415: "The body's media type is not one this route takes.",
    422: "Invalid input: one entry per field in `errors`.",
    431: "Too many request headers, or too large (`request_headers_too_large`).",
    429: "Too many requests (failed logins, the model provider's rate limit, or the daily "
    "token quota); see Retry-After.",
    502: "The model or a tool failed upstream (e.g. the agent's step limit).",
    503: "Unavailable for now (database busy, model not configured or unreachable); see Retry-After.",
}

_METHODS = ("get", "put", "post", "delete", "patch", "options", "head")
_MODEL_CALL_MARKERS = ("/chat", "/ask", "/resume")
_NO_DATABASE = ("/healthz", "/metrics")
_LOGINS = ("/api/auth/login", "/api/auth/token")


def not_nullable(schema: dict[str, Any]) -> None:
    """`json_schema_extra` for an optional field whose explicit null the server refuses.

    `title: Title | None = Field(default=None, json_schema_extra=not_nullable)`: the field may be
    left out, but the published schema does not offer null (a validator refuses it).
    """
    branches = [b for b in schema.pop("anyOf", []) if b.get("type") != "null"]
    if len(branches) == 1:
        schema.update(branches[0])
    elif branches:
        schema["anyOf"] = branches
    if schema.get("default", 0) is None:
        del schema["default"]


def install_openapi(app: FastAPI) -> None:
    """Post-process FastAPI's document once, when it is first built."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_errors(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def document_errors(spec: dict[str, Any]) -> dict[str, Any]:
    schemas = spec.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(_SCHEMAS)
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for path, item in spec.get("paths", {}).items():
        for method in _METHODS:
            if (operation := item.get(method)) is not None:
                responses = operation.setdefault("responses", {})
                for status in statuses_of(path, method, operation):
                    responses[str(status)] = _error_response(status, responses.get(str(status)))
    return spec


def statuses_of(path: str, method: str, operation: dict[str, Any]) -> set[int]:
    """What this operation can answer besides its success, by what it takes."""
    parameters = operation.get("parameters", [])
    has_body = "requestBody" in operation
    authenticated = bool(operation.get("security"))
    statuses = {int(s) for s in operation.get("responses", {}) if s.isdigit() and int(s) >= 400}
    statuses |= {400, 431}  # an untrusted Host, headers past the limits (headers.py)
    if authenticated:
        statuses |= {401, 403}
    if path.startswith("/api/auth/"):
        statuses |= {401, 403}  # wrong credentials; a disabled or unverified account
    if path in _LOGINS:
        statuses.add(429)  # too many failed logins (auth/throttle.py)
    if path.startswith("/webhooks/"):
        statuses |= {400, 401, 413}  # reads its own body: bad signature, too large
    if "multipart/form-data" in operation.get("requestBody", {}).get("content", {}):
        statuses.add(415)
    if has_body or any(p.get("in") == "path" for p in parameters):
        statuses.add(404)
    if has_body:
        statuses |= {400, 413, 422}
    if parameters:
        statuses.add(422)
    if authenticated and method == "post":
        statuses.add(409)
    if any(marker in path for marker in _MODEL_CALL_MARKERS):
        statuses |= {429, 502, 503}
    if not path.endswith(_NO_DATABASE):
        statuses.add(503)
    return statuses


def _error_response(status: int, existing: dict[str, Any] | None) -> dict[str, Any]:
    name = VALIDATION_ERROR if status == 422 else ERROR
    response = dict(existing or {})
    if status == 422 or not response.get("description"):
        response["description"] = _DESCRIPTIONS.get(status, "An error.")
    response["content"] = {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}}
    if status in (429, 503):
        response["headers"] = {**response.get("headers", {}), "Retry-After": _RETRY_AFTER}
    return response


_RETRY_AFTER = {
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "integer", "minimum": 0},
}
