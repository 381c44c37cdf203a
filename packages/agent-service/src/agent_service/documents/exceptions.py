from __future__ import annotations

from agent_service.errors import (
    Conflict,
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)

ACCEPTED = "upload a PDF, plain-text, Markdown or DOCX file"


def _size(n: int) -> str:
    return f"{n / (1024 * 1024):.4g} MB" if n >= 1024 * 1024 else f"{n} bytes"


class DocumentNotFound(NotFound):
    code = "document_not_found"

    def __init__(self, document_id: object | None = None) -> None:
        what = "Document" if document_id is None else f"Document {str(document_id)!r}"
        super().__init__(f"{what} not found.")


class ChunkNotFound(NotFound):
    code = "chunk_not_found"

    def __init__(self, chunk_id: object | None = None) -> None:
        what = "Passage" if chunk_id is None else f"Passage {str(chunk_id)!r}"
        super().__init__(f"{what} not found in your documents; search for it again.")


class FileTooLarge(PayloadTooLarge):
    code = "file_too_large"

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"File too large: the limit is {_size(limit)} ({limit} bytes); "
            "split the document or ask an operator to raise MAX_UPLOAD_BYTES."
        )


class UnsupportedFileType(UnsupportedMediaType):
    code = "unsupported_file_type"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what}: {ACCEPTED}.")


class MultipartRequired(UnsupportedMediaType):
    code = "multipart_required"

    def __init__(self, content_type: str) -> None:
        super().__init__(
            f"Send the document as multipart/form-data with a `file` field, not {content_type!r}."
        )


class EmptyFile(InvalidRequest):
    code = "empty_file"

    def __init__(self) -> None:
        super().__init__(f"The file is empty: {ACCEPTED} with some content.")


class MalformedUpload(InvalidRequest):
    code = "malformed_upload"

    def __init__(self, what: str) -> None:
        super().__init__(f"The multipart body could not be read: {what}.")


class PageNotFound(NotFound):
    code = "page_not_found"

    def __init__(self, filename: str, page: int) -> None:
        super().__init__(f"Document {filename!r} has no text on page {page}.")


class DocumentNotReady(Conflict):
    code = "document_not_ready"

    def __init__(self, filename: str, status: str, progress: float, error: str | None) -> None:
        if status == "failed":
            detail = (
                f"Document {filename!r} failed processing ({error}); upload it again to ask it."
            )
        else:
            detail = (
                f"Document {filename!r} is still processing ({progress:.0%} done); ask again "
                "when its status is 'ready' (GET /api/documents/{id}/events streams the progress)."
            )
        super().__init__(detail)
