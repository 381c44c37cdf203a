"""Text out of a stored file, page by page (blocking: the processing job runs it in a thread).

A `Source` opens the file once and hands out one page's text at a time, so a long PDF is indexed,
and its progress reported, as it is read. Files that cannot be read raise `DocumentUnreadable`
with a sentence saying why: encrypted, corrupted, or no text at all.
"""

from __future__ import annotations

import logging
import zipfile
from pathlib import Path
from typing import Protocol
from xml.etree import ElementTree

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

from agent_service.documents.sniff import DocumentKind, decode_text
from agent_service.jobs.exceptions import PermanentJobError

# pypdf logs every repaired xref table and unparsed font encoding as a warning: noise for us.
logging.getLogger("pypdf").setLevel(logging.ERROR)

MAX_DOCX_XML_BYTES = 200 * 1024 * 1024  # a zip bomb stops here
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"

ENCRYPTED = (
    "The PDF is encrypted (password-protected), so its text cannot be read; save a copy "
    "without the password and upload that."
)


class DocumentUnreadable(PermanentJobError):
    """The file cannot give text; retrying will not change that."""


class Source(Protocol):
    page_count: int

    def page_text(self, index: int) -> str:
        """The text of page `index` (0-based)."""


def open_source(path: Path, kind: DocumentKind) -> Source:
    if kind is DocumentKind.PDF:
        return PdfSource(path)
    if kind is DocumentKind.DOCX:
        return PagedText(docx_pages(path))
    return PagedText([decode_text(path.read_bytes())])


def corrupted(what: str) -> DocumentUnreadable:
    return DocumentUnreadable(f"The PDF is corrupted and could not be read ({what}).")


def no_text(kind: DocumentKind, page_count: int) -> DocumentUnreadable:
    if kind is DocumentKind.PDF:
        return DocumentUnreadable(
            f"The PDF has no text layer: its {page_count} page(s) hold only images (a scan "
            "without OCR?); run OCR on it and upload the result."
        )
    return DocumentUnreadable("The file has no text to index.")


class PdfSource:
    def __init__(self, path: Path) -> None:
        try:
            self.reader = PdfReader(path, strict=False)
            encrypted = self.reader.is_encrypted
        except (DependencyError, FileNotDecryptedError) as exc:
            raise DocumentUnreadable(ENCRYPTED) from exc
        except Exception as exc:  # pypdf raises many kinds on a damaged file
            raise corrupted(_describe(exc)) from exc
        if encrypted and not self._opens_without_password():
            raise DocumentUnreadable(ENCRYPTED)
        try:
            self.page_count = len(self.reader.pages)
        except Exception as exc:
            raise corrupted(_describe(exc)) from exc
        if self.page_count == 0:
            raise corrupted("it has no pages")

    def _opens_without_password(self) -> bool:
        """Some PDFs are encrypted with an empty user password (only an owner password)."""
        try:
            return bool(self.reader.decrypt(""))
        except (DependencyError, NotImplementedError, PdfReadError):
            return False

    def page_text(self, index: int) -> str:
        try:
            return self.reader.pages[index].extract_text() or ""
        except Exception as exc:
            raise corrupted(f"page {index + 1}: {_describe(exc)}") from exc


class PagedText:
    def __init__(self, pages: list[str]) -> None:
        self.pages = pages
        self.page_count = len(pages)

    def page_text(self, index: int) -> str:
        return self.pages[index]


def docx_pages(path: Path) -> list[str]:
    """The paragraphs of `word/document.xml`, split into pages at explicit page breaks."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_DOCX_XML_BYTES:
                raise DocumentUnreadable("The DOCX document is too large once uncompressed.")
            # expat >= 2.4 caps entity expansion and ElementTree fetches no external entities
            root = ElementTree.fromstring(archive.read(info))  # noqa: S314
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError) as exc:
        raise DocumentUnreadable(f"The DOCX document is damaged ({_describe(exc)}).") from exc
    pages: list[list[str]] = [[]]
    for paragraph in root.iter(f"{_W}p"):
        parts: list[str] = []
        for node in paragraph.iter():
            if node.tag == f"{_W}t" and node.text:
                parts.append(node.text)
            elif node.tag == f"{_W}tab":
                parts.append("\t")
            elif node.tag == f"{_W}br" and node.get(f"{_W}type") == "page":
                pages[-1].append("".join(parts))
                parts = []
                pages.append([])
        pages[-1].append("".join(parts))
    return ["\n".join(lines) for lines in pages]


def _describe(exc: BaseException) -> str:
    message = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
