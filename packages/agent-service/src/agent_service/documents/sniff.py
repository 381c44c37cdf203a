"""What a file is, from its first bytes: never from the name or Content-Type the client sent.

Accepted: PDF, plain text and Markdown (UTF-8, or a legacy 8-bit encoding), DOCX. Anything else is
refused with a sentence naming what it looks like, when we can tell.
"""

from __future__ import annotations

import codecs
import re
import zipfile
from enum import StrEnum
from pathlib import Path

SNIFF_BYTES = 8192  # decided on this much of the start of the file (or all of a shorter one)
PDF_HEADER_WINDOW = 1024  # the PDF spec lets `%PDF-` sit anywhere in the first 1024 bytes
MAX_CONTROL_RATIO = 0.01

MARKDOWN_EXTENSIONS = (".md", ".markdown", ".mdown", ".mkd")
_MARKDOWN_SIGNS = (
    re.compile(r"^#{1,6}\s+\S", re.MULTILINE),  # ATX heading
    re.compile(r"^\s{0,3}[-*+]\s+\S", re.MULTILINE),  # bullet list
    re.compile(r"^\s{0,3}(```|~~~)", re.MULTILINE),  # fenced code
    re.compile(r"\[[^\]\n]+\]\([^)\s]+\)"),  # link
    re.compile(r"^\s{0,3}>\s", re.MULTILINE),  # block quote
    re.compile(r"(\*\*|__)\S[^\n]*?\S\1"),  # strong emphasis
)

# Signatures of what people upload by mistake (or on purpose), to say what we saw.
_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"MZ", "a Windows executable"),
    (b"\x7fELF", "a Linux executable (ELF)"),
    (b"\xcf\xfa\xed\xfe", "a macOS executable (Mach-O)"),
    (b"\xce\xfa\xed\xfe", "a macOS executable (Mach-O)"),
    (b"\xca\xfe\xba\xbe", "a macOS universal binary or Java class file"),
    (b"#!", "a script"),
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"II*\x00", "a TIFF image"),
    (b"MM\x00*", "a TIFF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office document (.doc, .xls or .ppt)"),
    (b"{\\rtf", "an RTF document"),
    (b"%!PS", "a PostScript file"),
    (b"\x00asm", "a WebAssembly module"),
)


class DocumentKind(StrEnum):
    """A kind we can extract text from; the value is its media type."""

    PDF = "application/pdf"
    TEXT = "text/plain"
    MARKDOWN = "text/markdown"
    DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


class Refused(ValueError):
    """Not a kind we accept; the message says what it looks like."""


def sniff(head: bytes, *, filename: str, complete: bool) -> DocumentKind:
    """The kind of a file from its first bytes (`complete`: `head` is the whole file).

    A ZIP archive comes back as DOCX only tentatively: `looks_like_docx` checks the whole file.
    """
    for signature, what in _SIGNATURES:
        if head.startswith(signature) and not (signature == b"#!" and _is_text(head, complete)):
            raise Refused(f"The file looks like {what}")
    if b"%PDF-" in head[:PDF_HEADER_WINDOW]:
        return DocumentKind.PDF
    if head.startswith(b"PK\x03\x04"):
        return DocumentKind.DOCX
    if _is_text(head, complete):
        return DocumentKind.MARKDOWN if _is_markdown(head, filename) else DocumentKind.TEXT
    raise Refused("The file is not a PDF, text, Markdown or DOCX file (it looks like binary data)")


def confirm_docx(path: Path) -> None:
    """A ZIP archive is accepted only when it is a Word document (blocking: run in a thread)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError) as exc:
        raise Refused("The file looks like a damaged ZIP archive") from exc
    if "word/document.xml" not in names:
        raise Refused("The file looks like a ZIP archive, not a DOCX document")


def decode_text(data: bytes) -> str:
    """Text as UTF-8 (a BOM is dropped), else as Windows-1252: what plain-text files mostly are."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _is_text(head: bytes, complete: bool) -> bool:
    if b"\x00" in head:
        return False
    text = _decode_prefix(head, complete)
    if text is None:
        return False
    controls = sum(1 for ch in text if ord(ch) < 32 and ch not in "\t\n\r\f\v")
    return controls <= MAX_CONTROL_RATIO * len(text)


def _decode_prefix(head: bytes, complete: bool) -> str | None:
    """UTF-8 (a prefix may end in the first bytes of a character the window cut), else an 8-bit
    encoding; None when it is neither."""
    try:
        return codecs.getincrementaldecoder("utf-8-sig")().decode(head, final=complete)
    except UnicodeDecodeError:
        pass
    try:
        return head.decode("cp1252")
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined: 0x81, 0x8d, 0x8f, 0x90, 0x9d
        return None


def _is_markdown(head: bytes, filename: str) -> bool:
    if filename.lower().endswith(MARKDOWN_EXTENSIONS):
        return True
    text = head.decode("utf-8", errors="ignore")
    return sum(1 for sign in _MARKDOWN_SIGNS if sign.search(text)) >= 2
