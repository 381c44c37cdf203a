"""Text out of a stored file, page by page (blocking: the processing job runs it in a thread).

A `Source` opens the file once and hands out one page's text at a time, so a long PDF is indexed,
and its progress reported, as it is read. Files that cannot be read raise `DocumentUnreadable`
with a sentence saying why: encrypted, corrupted, or no text at all.
"""

from __future__ import annotations

import codecs
import logging
import tempfile
import weakref
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Protocol
from xml.etree import ElementTree

from pypdf import PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

from agent_service.documents.sniff import DocumentKind
from agent_service.jobs.exceptions import PermanentJobError

# pypdf logs every repaired xref table and unparsed font encoding as a warning: noise for us.
logging.getLogger("pypdf").setLevel(logging.ERROR)

MAX_DOCX_XML_BYTES = 200 * 1024 * 1024  # a zip bomb stops here
# Text and DOCX are read a section at a time: a text file's "pages" are sections of about this
# many bytes (cut after a line end), a DOCX page longer than this many characters is cut after a
# paragraph. So a 45 MB text file is never one 45 MB string (or 90 MB, decoded), nor its chunks
# one batch: memory stays that of a few sections, whatever the file's size.
SECTION_BYTES = 64 * 1024
_READ_BYTES = 1024 * 1024
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
        return SpooledPages(docx_pages(path))
    return TextSource(path)


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


class TextSource:
    """A text file, read one section (`SECTION_BYTES`, cut after a line end) at a time.

    The encoding is decided once for the whole file (UTF-8 when every byte decodes as UTF-8, else
    Windows-1252), reading it in 1 MB steps. Section boundaries depend only on the file, so a
    job resumed after its N-th section reads the same sections as the first attempt.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.size = path.stat().st_size
        self.encoding, self.start = _text_encoding(path)
        self.page_count = max(1, -(-(self.size - self.start) // SECTION_BYTES))

    def page_text(self, index: int) -> str:
        with self.path.open("rb") as file:
            begin, end = self._boundary(file, index), self._boundary(file, index + 1)
            file.seek(begin)
            return file.read(max(0, end - begin)).decode(self.encoding, errors="replace")

    def _boundary(self, file: IO[bytes], index: int) -> int:
        """Where section `index` starts: after the first line end at or past its nominal start
        (within 4 KiB), else at the first byte that starts a UTF-8 character."""
        if index <= 0:
            return self.start
        if index >= self.page_count:
            return self.size
        nominal = self.start + index * SECTION_BYTES
        file.seek(nominal)
        window = file.read(4096)
        newline = window.find(b"\n")
        if newline >= 0:
            return nominal + newline + 1
        skip = 0
        if self.encoding == "utf-8":
            while skip < len(window) and 0x80 <= window[skip] < 0xC0:
                skip += 1
        return nominal + skip


def _text_encoding(path: Path) -> tuple[str, int]:
    """The file's encoding and where its text starts (after a UTF-8 byte order mark)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with path.open("rb") as file:
        start = 3 if file.read(3) == codecs.BOM_UTF8 else 0
        file.seek(start)
        try:
            while chunk := file.read(_READ_BYTES):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "cp1252", 0
    return "utf-8", start


class SpooledPages:
    """Pages produced one at a time (a streamed DOCX), kept in a temporary file, not in memory."""

    def __init__(self, pages: Iterator[str]) -> None:
        self.spool = tempfile.TemporaryFile()  # noqa: SIM115 - closed with the source
        weakref.finalize(self, self.spool.close)
        self.spans: list[tuple[int, int]] = []
        for page in pages:
            data = page.encode("utf-8")
            self.spans.append((self.spool.tell(), len(data)))
            self.spool.write(data)
        self.page_count = len(self.spans)

    def page_text(self, index: int) -> str:
        offset, length = self.spans[index]
        self.spool.seek(offset)
        return self.spool.read(length).decode("utf-8")


def docx_pages(path: Path) -> Iterator[str]:
    """The paragraphs of `word/document.xml`, split into pages at explicit page breaks (and a
    page longer than `SECTION_BYTES` characters after a paragraph), parsed as a stream: each
    paragraph is dropped from the tree once read."""
    try:
        with zipfile.ZipFile(path) as archive:
            info = archive.getinfo("word/document.xml")
            if info.file_size > MAX_DOCX_XML_BYTES:
                raise DocumentUnreadable("The DOCX document is too large once uncompressed.")
            with archive.open(info) as xml:
                yield from _docx_page_stream(xml)
    except (KeyError, zipfile.BadZipFile, ElementTree.ParseError) as exc:
        raise DocumentUnreadable(f"The DOCX document is damaged ({_describe(exc)}).") from exc


def _docx_page_stream(xml: IO[bytes]) -> Iterator[str]:
    lines: list[str] = []
    size = 0
    open_elements: list[ElementTree.Element] = []
    open_paragraphs = 0
    # expat >= 2.4 caps entity expansion and ElementTree fetches no external entities
    for event, element in ElementTree.iterparse(xml, events=("start", "end")):  # noqa: S314
        if event == "start":
            open_elements.append(element)
            open_paragraphs += element.tag == f"{_W}p"
            continue
        open_elements.pop()
        if element.tag == f"{_W}p":
            open_paragraphs -= 1
            for line, page_ends in _paragraph_lines(element):
                lines.append(line)
                size += len(line) + 1
                if page_ends or size >= SECTION_BYTES:
                    yield "\n".join(lines)
                    lines, size = [], 0
        if open_paragraphs == 0 and open_elements:
            # read (or outside any paragraph): drop it, so the tree never holds the document
            open_elements[-1].remove(element)
    yield "\n".join(lines)


def _paragraph_lines(paragraph: ElementTree.Element) -> Iterator[tuple[str, bool]]:
    """The paragraph's text, as (line, whether a page break ends it): one line unless the
    paragraph holds explicit page breaks."""
    parts: list[str] = []
    for node in paragraph.iter():
        if node.tag == f"{_W}t" and node.text:
            parts.append(node.text)
        elif node.tag == f"{_W}tab":
            parts.append("\t")
        elif node.tag == f"{_W}br" and node.get(f"{_W}type") == "page":
            yield "".join(parts), True
            parts = []
    yield "".join(parts), False


def _describe(exc: BaseException) -> str:
    message = " ".join(str(exc).split())[:200]
    return f"{type(exc).__name__}: {message}" if message else type(exc).__name__
