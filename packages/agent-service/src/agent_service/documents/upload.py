"""Receiving an upload: the raw request stream parsed as it arrives and written to storage.

Starlette's form parser would spool the whole body before the route runs; here the route reads the
ASGI stream itself, so the size limit is enforced while reading (413 as soon as the file crosses it,
the rest of the body never read), the type is sniffed from the first bytes (415 just as early), and
memory stays bounded by one network chunk plus a small write buffer, whatever the file's size.
The bytes go to the storage backend (a local folder or an object store) as they are parsed.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import anyio.to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect

from agent_service.documents.exceptions import (
    EmptyFile,
    FileTooLarge,
    MalformedUpload,
    MultipartRequired,
    UnsupportedFileType,
)
from agent_service.documents.sniff import SNIFF_BYTES, DocumentKind, Refused, confirm_docx, sniff
from agent_service.storage import ObjectStorage

FILE_FIELD = b"file"
MULTIPART_ALLOWANCE = 64 * 1024  # boundaries and part headers around the file
MAX_OTHER_FIELDS_BYTES = 64 * 1024
WRITE_BUFFER_BYTES = 1024 * 1024
MAX_FILENAME_CHARS = 200
_WINDOWS_FORBIDDEN = re.compile(r'[<>:"|?*]')


@dataclass(frozen=True)
class ReceivedUpload:
    """A received file, complete in storage under the key it was given."""

    filename: str
    kind: DocumentKind
    size: int
    sha256: str


def sanitize_filename(raw: str | None) -> str:
    """A name safe to show and to put in a header: no path, no control or bidi characters.

    It is only ever displayed: stored files are named by document id.
    """
    name = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = unicodedata.normalize("NFC", name)
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    name = _WINDOWS_FORBIDDEN.sub("_", name)
    name = " ".join(name.split()).strip(" .")
    if len(name) > MAX_FILENAME_CHARS:
        stem, dot, extension = name.rpartition(".")
        if dot and 0 < len(extension) <= 10:
            name = stem[: MAX_FILENAME_CHARS - len(extension) - 1] + "." + extension
        else:
            name = name[:MAX_FILENAME_CHARS]
    return name or "document"


@dataclass
class _Receiver:
    """Parser callbacks (synchronous, called from `MultipartParser.write`) and their state."""

    max_bytes: int
    header_field: bytearray = field(default_factory=bytearray)
    header_value: bytearray = field(default_factory=bytearray)
    headers: dict[bytes, bytes] = field(default_factory=dict)
    in_file: bool = False
    file_seen: bool = False
    file_ended: bool = False
    ended: bool = False
    filename: str = "document"
    size: int = 0
    other_bytes: int = 0
    head: bytearray = field(default_factory=bytearray)
    pending: bytearray = field(default_factory=bytearray)
    kind: DocumentKind | None = None
    digest: hashlib._Hash = field(default_factory=hashlib.sha256)

    def callbacks(self) -> dict[str, object]:
        return {
            "on_header_field": lambda d, s, e: self.header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self.header_value.extend(d[s:e]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _header_end(self) -> None:
        self.headers[bytes(self.header_field).lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def _headers_finished(self) -> None:
        disposition = self.headers.get(b"content-disposition", b"").decode("latin-1")
        _, params = parse_options_header(disposition)
        self.headers.clear()
        if params.get(b"name") == FILE_FIELD and not self.file_seen:
            self.in_file = self.file_seen = True
            raw_name = params.get(b"filename", b"").decode("utf-8", errors="replace")
            self.filename = sanitize_filename(raw_name)

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if not self.in_file:
            self.other_bytes += end - start
            if self.other_bytes > MAX_OTHER_FIELDS_BYTES:
                raise MalformedUpload("the form fields besides `file` exceed 64 KiB")
            return
        self.size += end - start
        if self.size > self.max_bytes:
            raise FileTooLarge(self.max_bytes)
        chunk = data[start:end]
        self.digest.update(chunk)
        self.pending.extend(chunk)
        if self.kind is None:
            self.head.extend(chunk[: SNIFF_BYTES - len(self.head)])
            if len(self.head) >= SNIFF_BYTES:
                self._sniff(complete=False)

    def _part_end(self) -> None:
        if self.in_file:
            self.in_file = False
            self.file_ended = True
            if self.size == 0:
                raise EmptyFile()
            if self.kind is None:
                self._sniff(complete=True)

    def _end(self) -> None:
        self.ended = True

    def _sniff(self, *, complete: bool) -> None:
        try:
            self.kind = sniff(bytes(self.head), filename=self.filename, complete=complete)
        except Refused as exc:
            raise UnsupportedFileType(str(exc)) from exc


async def receive_upload(
    content_type: str,
    content_length: str | None,
    stream: AsyncIterator[bytes],
    *,
    storage: ObjectStorage,
    key: str,
    max_bytes: int,
) -> ReceivedUpload:
    """Parse a multipart body from `stream`, storing its `file` part under `key` as it arrives.

    Raises 413 `file_too_large`, 415 `unsupported_file_type`/`multipart_required`, 400
    `empty_file`/`malformed_upload`, or 422 when there is no `file` part; nothing is left in
    storage then.
    """
    media_type, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    if media_type != b"multipart/form-data" or not boundary:
        raise MultipartRequired(content_type or "no Content-Type")
    declared = int(content_length) if content_length and content_length.isdigit() else None
    if declared is not None and declared > max_bytes + MULTIPART_ALLOWANCE:
        raise FileTooLarge(max_bytes)  # the client told us: no need to read a byte
    receiver = _Receiver(max_bytes)
    try:
        await storage.put(key, _file_chunks(stream, receiver, boundary))
        if receiver.kind is DocumentKind.DOCX:
            await _confirm_docx(storage, key)
    except ClientDisconnect as exc:  # nobody to answer; not a server error either
        await storage.delete(key)
        raise MalformedUpload("the client went away before the upload ended") from exc
    except BaseException:
        await storage.delete(key)
        raise
    assert receiver.kind is not None
    return ReceivedUpload(
        receiver.filename, receiver.kind, receiver.size, receiver.digest.hexdigest()
    )


async def _confirm_docx(storage: ObjectStorage, key: str) -> None:
    async with storage.local_copy(key) as path:
        try:
            await anyio.to_thread.run_sync(confirm_docx, path)
        except Refused as exc:
            raise UnsupportedFileType(str(exc)) from exc


async def _file_chunks(
    stream: AsyncIterator[bytes], receiver: _Receiver, boundary: bytes
) -> AsyncIterator[bytes]:
    """The `file` part's bytes, in writes of up to about 1 MiB, as the body is parsed.

    The parser reads to the end of the body (so the connection can be reused); its errors (size,
    type, shape) are raised from here, before the chunk that crossed a limit is handed on.
    """
    parser = MultipartParser(boundary, receiver.callbacks())  # type: ignore[arg-type]
    epilogue = 0
    try:
        async for chunk in stream:
            if receiver.ended:
                epilogue += len(chunk)
                if epilogue > MULTIPART_ALLOWANCE:
                    raise MalformedUpload("too much data after the closing boundary")
                continue
            try:
                parser.write(chunk)
            except MultipartParseError as exc:
                raise MalformedUpload(str(exc).rstrip(".")) from exc
            full = len(receiver.pending) >= WRITE_BUFFER_BYTES
            if receiver.pending and (full or receiver.file_ended):
                yield _take(receiver)
        if not receiver.ended:
            raise MalformedUpload("the body ended before the closing boundary")
        if not receiver.file_seen:
            raise _missing_file()
        if receiver.pending:
            yield _take(receiver)
    finally:
        if (aclose := getattr(stream, "aclose", None)) is not None:
            await aclose()  # a stream left mid-way is closed now, not by the garbage collector


def _take(receiver: _Receiver) -> bytes:
    data = bytes(receiver.pending)
    receiver.pending.clear()
    return data


def _missing_file() -> Exception:
    from fastapi.exceptions import RequestValidationError

    return RequestValidationError(
        [{"loc": ("body", "file"), "msg": "Field required", "type": "missing"}]
    )
