"""Sniffing: the type comes from the bytes, never from the name the client sent."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from agent_service.documents.sniff import DocumentKind, Refused, confirm_docx, decode_text, sniff
from agent_service.documents.upload import sanitize_filename
from tests.conftest import PDF_FIXTURES


@pytest.mark.parametrize("path", sorted(PDF_FIXTURES.glob("*.pdf")), ids=lambda p: p.name)
def test_every_fixture_pdf_is_a_pdf(path: Path) -> None:
    head = path.read_bytes()[:8192]
    assert sniff(head, filename="x.bin", complete=False) is DocumentKind.PDF


@pytest.mark.parametrize(
    ("head", "what"),
    [
        (b"MZ\x90\x00\x03" + b"\x00" * 100, "a Windows executable"),
        (b"\x7fELF\x02\x01\x01", "a Linux executable (ELF)"),
        (b"\xcf\xfa\xed\xfe\x07\x00", "a macOS executable (Mach-O)"),
        (b"\x89PNG\r\n\x1a\n\x00\x00", "a PNG image"),
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "a JPEG image"),
        (b"\x1f\x8b\x08\x00", "a gzip archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy Office document (.doc, .xls or .ppt)"),
        (b"MZ" + b"%PDF-1.7" + b"\x00" * 20, "a Windows executable"),  # a polyglot is refused
    ],
)
def test_what_is_refused_is_named(head: bytes, what: str) -> None:
    with pytest.raises(Refused, match=what.replace("(", r"\(").replace(")", r"\)")):
        sniff(head, filename="report.pdf", complete=True)


def test_a_shell_script_is_refused_but_a_shebang_text_is_text() -> None:
    with pytest.raises(Refused, match="script"):
        sniff(b"#!/bin/sh\n\x00\x01\x02", filename="a.txt", complete=True)
    assert sniff(b"#!/bin/sh\necho hi\n", filename="a.txt", complete=True) is DocumentKind.TEXT


@pytest.mark.parametrize(
    ("head", "filename", "kind"),
    [
        (b"%PDF-1.4\n", "anything", DocumentKind.PDF),
        (b"\n\n  junk before the header %PDF-1.7", "x", DocumentKind.PDF),
        (b"Just words.\n", "a.txt", DocumentKind.TEXT),
        (b"Just words.\n", "a.md", DocumentKind.MARKDOWN),
        (b"# Title\n\n- one\n- two\n", "a.txt", DocumentKind.MARKDOWN),
        ("Ünïcödé, 中文, العربية\n".encode(), "u.txt", DocumentKind.TEXT),
        (b"\xef\xbb\xbfBOM text", "b.txt", DocumentKind.TEXT),
        (b"caf\xe9 au lait", "latin.txt", DocumentKind.TEXT),  # Windows-1252
        (b"PK\x03\x04", "a.docx", DocumentKind.DOCX),  # tentatively: confirm_docx decides
    ],
)
def test_what_is_accepted(head: bytes, filename: str, kind: DocumentKind) -> None:
    assert sniff(head, filename=filename, complete=True) is kind


def test_a_utf8_character_cut_by_the_sniff_window_is_still_text() -> None:
    head = ("é" * 4096).encode()[:8191]  # ends in half a character
    assert sniff(head, filename="t.txt", complete=False) is DocumentKind.TEXT
    with pytest.raises(Refused):
        sniff(b"text with a NUL \x00 inside", filename="t.txt", complete=True)


def test_utf8_whose_bytes_windows_1252_leaves_undefined_is_text() -> None:
    # "Á" is C3 81 in UTF-8, and 0x81 means nothing in Windows-1252: only UTF-8 reads this file
    whole = "Á la carte\n".encode() * 10
    assert sniff(whole, filename="t.txt", complete=True) is DocumentKind.TEXT
    assert sniff(whole + "Á".encode()[:1], filename="t.txt", complete=False) is DocumentKind.TEXT


def test_only_a_prefix_may_end_in_half_a_character() -> None:
    """A whole file that ends mid-character is not UTF-8; here not Windows-1252 either."""
    with pytest.raises(Refused, match="binary data"):
        sniff("Á la carte\n".encode() * 10 + b"\xc3", filename="t.txt", complete=True)


def test_invalid_utf8_before_a_cut_character_is_not_excused() -> None:
    head = "Á la carte\n".encode() * 10 + b"\xff" + "😀".encode()[:3]
    with pytest.raises(Refused, match="binary data"):
        sniff(head, filename="t.txt", complete=False)


def test_bytes_neither_utf8_nor_windows_1252_are_binary() -> None:
    with pytest.raises(Refused, match="binary data"):
        sniff(b"plain words \x81\x8d\x8f\x90\x9d more words", filename="t.txt", complete=True)


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"a" * 199 + b"\x1b", DocumentKind.TEXT),  # 0.5 %
        (b"a" * 198 + b"\x1b\x1b", DocumentKind.TEXT),  # 1 %: the limit is allowed
        (b"a" * 197 + b"\x1b\x1b\x1b", None),  # 1.5 %
        (b"\x1b\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f" * 20, None),
        (b"col\tcol\r\n\f\v" * 30, DocumentKind.TEXT),  # whitespace controls do not count
    ],
)
def test_more_than_one_percent_control_characters_is_binary(
    head: bytes, kind: DocumentKind | None
) -> None:
    if kind is None:
        with pytest.raises(Refused, match="binary data"):
            sniff(head, filename="log.txt", complete=True)
    else:
        assert sniff(head, filename="log.txt", complete=True) is kind


def test_the_pdf_header_counts_within_the_first_1024_bytes() -> None:
    text = b"plain words " * 100
    at_the_edge = text[: 1024 - len(b"%PDF-")] + b"%PDF-1.7\n"
    assert sniff(at_the_edge, filename="x", complete=True) is DocumentKind.PDF
    one_byte_later = text[: 1024 - len(b"%PDF-") + 1] + b"%PDF-1.7\n"
    assert sniff(one_byte_later, filename="x", complete=True) is DocumentKind.TEXT


def test_one_markdown_sign_alone_is_not_markdown() -> None:
    for head in (b"- a dash first\nthen prose\n", b"see [the docs](https://x.org) here\n"):
        assert sniff(head, filename="notes.txt", complete=True) is DocumentKind.TEXT


def test_a_docx_needs_word_document_xml(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.docx", tmp_path / "bad.docx"
    for path, member in ((good, "word/document.xml"), (bad, "data.csv")):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w") as archive:
            archive.writestr(member, "<x/>")
        path.write_bytes(buffer.getvalue())
    confirm_docx(good)
    with pytest.raises(Refused, match="not a DOCX"):
        confirm_docx(bad)
    (tmp_path / "broken.docx").write_bytes(b"PK\x03\x04garbage")
    with pytest.raises(Refused, match="damaged ZIP"):
        confirm_docx(tmp_path / "broken.docx")


def test_text_decodes_as_utf8_else_windows_1252() -> None:
    assert decode_text("\ufeffhéllo".encode()) == "héllo"
    assert decode_text(b"caf\xe9") == "café"


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("report.pdf", "report.pdf"),
        ("/etc/passwd", "passwd"),
        ("..\\..\\boot.ini", "boot.ini"),
        ("a\x00b\x1fc.txt", "abc.txt"),
        ("evil\u202egnp.exe", "evilgnp.exe"),
        ("   .  ", "document"),
        (None, "document"),
        ("x" * 300 + ".pdf", "x" * 196 + ".pdf"),
    ],
)
def test_filenames_are_sanitised(raw: str | None, clean: str) -> None:
    assert sanitize_filename(raw) == clean
