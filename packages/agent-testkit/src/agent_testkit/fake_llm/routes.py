"""Scriptable extra routes: the OpenAI endpoints a real app calls besides the model (moderations, images,
audio, files, batches), answered only when a test asks with `fake_llm.route(...)`.

Unasked, such a request stays what it was: a 404 that fails the test, so an app never gets an answer
nobody wrote. Asked by name (`route("files")`, `route("POST /v1/moderations")`), a route gets a realistic
default built from the openai SDK's types; given `json=`, `body=` or `respond=`, it answers that.
Every request to a scripted route is recorded in `fake_llm.route_calls`.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

from starlette.requests import Request
from starlette.responses import Response

if TYPE_CHECKING:
    from agent_testkit.fake_llm.fake import FakeLLM

JSON = "application/json"
# a 1x1 transparent PNG: what an image default decodes to
PNG_1X1 = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)
DEFAULT_TRANSCRIPT = "This is the fake LLM's transcription."


@dataclass
class RouteCall:
    """One request to a scripted route: `json` is the parsed JSON body, `form` the multipart fields."""

    method: str
    path: str
    params: dict[str, str]
    body: bytes
    json: Any = None
    form: dict[str, Any] = field(default_factory=dict)


Answer: TypeAlias = Callable[["FakeLLM", RouteCall], Response]


@dataclass(frozen=True)
class ScriptedRoute:
    method: str
    pattern: str  # the path without /v1, e.g. "/files/{file_id}"
    answer: Answer

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if method != self.method:
            return None
        regex = re.sub(r"\\{(\w+)\\}", r"(?P<\1>[^/]+)", re.escape(self.pattern))
        found = re.fullmatch(regex, path)
        return found.groupdict() if found else None


def build(
    spec: str,
    *,
    json_body: Any = None,
    body: bytes | None = None,
    respond: Callable[[RouteCall], Any] | None = None,
    status: int = 200,
    content_type: str | None = None,
) -> list[ScriptedRoute]:
    """The routes `fake_llm.route(spec, ...)` adds (a family name adds each of its defaults)."""
    if spec in FAMILIES:
        if json_body is not None or body is not None or respond is not None:
            raise ValueError(
                f"route({spec!r}) names a family of defaults; script one route instead"
            )
        return [ScriptedRoute(*_split(key), DEFAULTS[key]) for key in FAMILIES[spec]]
    method, pattern = _split(spec)
    if json_body is None and body is None and respond is None:
        key = f"{method} {pattern}"
        if key not in DEFAULTS:
            known = ", ".join([*FAMILIES, *DEFAULTS])
            raise ValueError(
                f"no default answer for {spec!r}; give json=, body= or respond=. Defaults: {known}"
            )
        return [ScriptedRoute(method, pattern, DEFAULTS[key])]
    return [ScriptedRoute(method, pattern, _given(json_body, body, respond, status, content_type))]


def _split(spec: str) -> tuple[str, str]:
    method, _, path = spec.strip().partition(" ")
    if not path.startswith("/"):
        raise ValueError(
            f"a route is 'METHOD /path' or a family name ({', '.join(FAMILIES)}), not {spec!r}"
        )
    return method.upper(), strip_version(path)


def strip_version(path: str) -> str:
    return path[3:] if path.startswith("/v1/") else path


def _given(
    json_body: Any,
    body: bytes | None,
    respond: Callable[[RouteCall], Any] | None,
    status: int,
    content_type: str | None,
) -> Answer:
    def answer(fake: FakeLLM, call: RouteCall) -> Response:
        value = respond(call) if respond is not None else json_body if body is None else body
        if isinstance(value, Response):
            return value
        if isinstance(value, bytes | str):
            raw = value.encode() if isinstance(value, str) else value
            return Response(
                raw, status_code=status, media_type=content_type or "application/octet-stream"
            )
        return Response(
            json.dumps(value).encode(), status_code=status, media_type=content_type or JSON
        )

    return answer


@dataclass(frozen=True)
class Upload:
    """A file sent in a multipart form."""

    filename: str
    content: bytes


async def read_call(request: Request, params: dict[str, str]) -> RouteCall:
    body = await request.body()
    call = RouteCall(request.method, request.url.path, params, body)
    kind = request.headers.get("content-type", "")
    if kind.startswith("multipart/form-data"):
        async with request.form() as form:
            for key, value in form.multi_items():
                if isinstance(value, str):
                    call.form[key] = value
                else:
                    call.form[key] = Upload(value.filename or "upload", await value.read())
    elif body:
        try:
            call.json = json.loads(body)
        except ValueError:
            call.json = None
    return call


# -- the defaults --------------------------------------------------------------------------------------


def _json(value: Any, status: int = 200) -> Response:
    return Response(json.dumps(value).encode(), status_code=status, media_type=JSON)


def _moderation(fake: FakeLLM, call: RouteCall) -> Response:
    from openai.types.moderation import Categories, CategoryAppliedInputTypes, CategoryScores

    def names(model: Any) -> list[str]:
        return [f.alias or name for name, f in model.model_fields.items()]

    given = (call.json or {}).get("input", "")
    inputs = given if isinstance(given, list) else [given]
    result = {
        "flagged": False,
        "categories": dict.fromkeys(names(Categories), False),
        "category_scores": dict.fromkeys(names(CategoryScores), 0.0),
        "category_applied_input_types": {n: ["text"] for n in names(CategoryAppliedInputTypes)},
    }
    model = (call.json or {}).get("model") or "omni-moderation-latest"
    number = fake.next_number()
    return _json({"id": f"modr-fake-{number}", "model": model, "results": [result] * len(inputs)})


def _images(fake: FakeLLM, call: RouteCall) -> Response:
    request = call.json or call.form
    count = int(request.get("n") or 1)
    if request.get("response_format") == "url":
        data = [
            {"url": f"https://fake-llm.test/images/{fake.next_number()}.png"} for _ in range(count)
        ]
    else:
        data = [{"b64_json": base64.b64encode(PNG_1X1).decode()} for _ in range(count)]
    return _json({"created": int(time.time()), "data": data})


def _speech(fake: FakeLLM, call: RouteCall) -> Response:
    kind = (call.json or {}).get("response_format") or "mp3"
    return Response(b"ID3fake-llm-audio", media_type=f"audio/{'mpeg' if kind == 'mp3' else kind}")


def _transcription(fake: FakeLLM, call: RouteCall) -> Response:
    if call.form.get("response_format") in ("text", "srt", "vtt"):
        return Response(DEFAULT_TRANSCRIPT.encode(), media_type="text/plain")
    return _json({"text": DEFAULT_TRANSCRIPT})


def _file_object(file_id: str, stored: StoredFile) -> dict[str, Any]:
    return {
        "id": file_id,
        "object": "file",
        "bytes": len(stored.content),
        "created_at": stored.created_at,
        "filename": stored.filename,
        "purpose": stored.purpose,
        "status": "processed",
    }


@dataclass(frozen=True)
class StoredFile:
    filename: str
    purpose: str
    content: bytes
    created_at: int


def _create_file(fake: FakeLLM, call: RouteCall) -> Response:
    upload = call.form.get("file")
    filename, content = (
        (upload.filename, upload.content) if isinstance(upload, Upload) else ("upload", b"")
    )
    purpose = str(call.form.get("purpose", "user_data"))
    stored = StoredFile(filename, purpose, content, int(time.time()))
    file_id = f"file-fake-{fake.next_number()}"
    fake.files[file_id] = stored
    return _json(_file_object(file_id, stored))


def _get_file(fake: FakeLLM, call: RouteCall) -> Response:
    file_id = call.params["file_id"]
    stored = fake.files.get(file_id)
    if stored is None:
        return _not_found("file", file_id)
    if call.path.endswith("/content"):
        return Response(stored.content, media_type="application/octet-stream")
    return _json(_file_object(file_id, stored))


def _list_files(fake: FakeLLM, call: RouteCall) -> Response:
    data = [_file_object(file_id, stored) for file_id, stored in fake.files.items()]
    return _json({"object": "list", "data": data, "has_more": False})


def _delete_file(fake: FakeLLM, call: RouteCall) -> Response:
    file_id = call.params["file_id"]
    if fake.files.pop(file_id, None) is None:
        return _not_found("file", file_id)
    return _json({"id": file_id, "object": "file", "deleted": True})


def _not_found(kind: str, name: str) -> Response:
    error = {
        "message": f"No such {kind}: {name}",
        "type": "invalid_request_error",
        "code": None,
        "param": None,
    }
    return _json({"error": error}, status=404)


def _create_batch(fake: FakeLLM, call: RouteCall) -> Response:
    """Completed at once: each line of the input file answered with the fake's default reply."""
    from agent_testkit.fake_llm.fake import DEFAULT_REPLY
    from agent_testkit.fake_llm.payloads import completion
    from agent_testkit.fake_llm.script import reply

    request = call.json or {}
    source = fake.files.get(str(request.get("input_file_id")))
    lines = [
        json.loads(line)
        for line in (source.content if source else b"").splitlines()
        if line.strip()
    ]
    outputs = []
    for line in lines:
        number = fake.next_number()
        body = completion(
            reply(DEFAULT_REPLY),
            request=line.get("body") or {},
            completion_id=f"chatcmpl-fake-{number}",
            tool_call_ids=[],
            prompt=0,
        )
        response = {
            "status_code": 200,
            "request_id": f"req-fake-{number}",
            "body": json.loads(body),
        }
        outputs.append(
            {
                "id": f"batch_req_fake_{number}",
                "custom_id": line.get("custom_id"),
                "response": response,
                "error": None,
            }
        )
    now = int(time.time())
    output = StoredFile(
        "batch_output.jsonl",
        "batch_output",
        "".join(json.dumps(o) + "\n" for o in outputs).encode(),
        now,
    )
    output_id = f"file-fake-{fake.next_number()}"
    fake.files[output_id] = output
    batch_id = f"batch_fake_{fake.next_number()}"
    batch = {
        "id": batch_id,
        "object": "batch",
        "endpoint": request.get("endpoint", "/v1/chat/completions"),
        "input_file_id": request.get("input_file_id"),
        "completion_window": request.get("completion_window", "24h"),
        "status": "completed",
        "output_file_id": output_id,
        "error_file_id": None,
        "created_at": now,
        "in_progress_at": now,
        "finalizing_at": now,
        "completed_at": now,
        "request_counts": {"total": len(lines), "completed": len(lines), "failed": 0},
        "metadata": request.get("metadata"),
    }
    fake.batches[batch_id] = batch
    return _json(batch)


def _get_batch(fake: FakeLLM, call: RouteCall) -> Response:
    batch = fake.batches.get(call.params["batch_id"])
    return _json(batch) if batch is not None else _not_found("batch", call.params["batch_id"])


DEFAULTS: dict[str, Answer] = {
    "POST /moderations": _moderation,
    "POST /images/generations": _images,
    "POST /images/edits": _images,
    "POST /images/variations": _images,
    "POST /audio/speech": _speech,
    "POST /audio/transcriptions": _transcription,
    "POST /audio/translations": _transcription,
    "POST /files": _create_file,
    "GET /files": _list_files,
    "GET /files/{file_id}": _get_file,
    "GET /files/{file_id}/content": _get_file,
    "DELETE /files/{file_id}": _delete_file,
    "POST /batches": _create_batch,
    "GET /batches/{batch_id}": _get_batch,
}
FAMILIES: dict[str, list[str]] = {
    "moderations": ["POST /moderations"],
    "images": ["POST /images/generations", "POST /images/edits", "POST /images/variations"],
    "audio": ["POST /audio/speech", "POST /audio/transcriptions", "POST /audio/translations"],
    "files": [
        "POST /files",
        "GET /files",
        "GET /files/{file_id}",
        "GET /files/{file_id}/content",
        "DELETE /files/{file_id}",
    ],
    "batches": ["POST /batches", "GET /batches/{batch_id}"],
}
