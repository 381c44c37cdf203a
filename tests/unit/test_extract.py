"""Extraction from the real PDFs: text and page numbers kept, unreadable files named as such."""

from __future__ import annotations

import codecs
import io
import zipfile
from pathlib import Path

import pytest

from agent_service.documents.extract import (
    SECTION_BYTES,
    DocumentUnreadable,
    docx_pages,
    open_source,
)
from agent_service.documents.sniff import DocumentKind
from tests.conftest import PDF_FIXTURES, make_text_pdf


def pages_of(name: str) -> list[str]:
    source = open_source(PDF_FIXTURES / name, DocumentKind.PDF)
    return [source.page_text(i) for i in range(source.page_count)]


def test_a_multi_page_pdf_keeps_its_pages() -> None:
    pages = pages_of("pdflatex-4-pages.pdf")
    assert len(pages) == 4
    assert pages[0].startswith("Hello, here is some text without a meaning.")
    assert all(len(page) > 1000 for page in pages)


def test_six_scripts_survive() -> None:
    [page] = pages_of("multilang.pdf")
    for text in (
        "Hello World",
        "مرحبا بالعالم",
        "Привет, мир",
        "你好世界",
        "สวัสดีชาวโลก",
        "こんにちは世界",
    ):
        assert text in page


def test_arabic_keeps_its_vowel_marks() -> None:
    assert "حَبيبي" in pages_of("habibi.pdf")[0]


def test_a_broken_xref_is_repaired() -> None:
    assert pages_of("helloworld-bad.pdf") == ["Hello, world!"]


@pytest.mark.parametrize(
    ("name", "start"),
    [
        ("libreoffice-writer-password.pdf", "The PDF is encrypted (password-protected)"),
        ("r6-both-passwords.pdf", "The PDF is encrypted (password-protected)"),
        ("bug1020226.pdf", "The PDF is corrupted and could not be read"),
    ],
)
def test_unreadable_pdfs_say_why(name: str, start: str) -> None:
    with pytest.raises(DocumentUnreadable) as raised:
        pages_of(name)
    assert raised.value.message.startswith(start)


def test_an_image_only_page_has_no_text() -> None:
    assert pages_of("jbig2_symbol_offset.pdf") == [""]


def test_generated_pdfs_put_text_on_the_pages_asked(tmp_path: Path) -> None:
    path = tmp_path / "made.pdf"
    path.write_bytes(make_text_pdf(["first (page)", "second \\ page"]))
    source = open_source(path, DocumentKind.PDF)
    assert [source.page_text(i).strip() for i in range(2)] == ["first (page)", "second \\ page"]


def test_docx_paragraphs_and_page_breaks(tmp_path: Path) -> None:
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    body = (
        "<w:p><w:r><w:t>Title</w:t></w:r></w:p>"
        '<w:p><w:r><w:t>Before</w:t><w:br w:type="page"/><w:t>After</w:t></w:r></w:p>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(
            "word/document.xml", f'<w:document xmlns:w="{ns}"><w:body>{body}</w:body></w:document>'
        )
    path = tmp_path / "doc.docx"
    path.write_bytes(buffer.getvalue())
    assert list(docx_pages(path)) == ["Title\nBefore", "After"]


def test_a_small_text_file_is_one_page(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes("Ligne une.\nLigne deux, café.\n".encode())
    source = open_source(path, DocumentKind.TEXT)
    assert (source.page_count, source.page_text(0)) == (1, "Ligne une.\nLigne deux, café.\n")


def test_a_long_text_file_is_read_in_sections_cut_after_a_line(tmp_path: Path) -> None:
    lines = [f"{i} über café naïve line\n" for i in range(20_000)]  # ~540 KB, UTF-8
    path = tmp_path / "long.txt"
    path.write_bytes(codecs.BOM_UTF8 + "".join(lines).encode())
    source = open_source(path, DocumentKind.TEXT)
    assert source.page_count == -(-(path.stat().st_size - 3) // SECTION_BYTES)
    sections = [source.page_text(i) for i in range(source.page_count)]
    assert "".join(sections) == "".join(lines)  # nothing lost, nothing twice, no BOM
    assert all(len(s.encode()) <= SECTION_BYTES + 4096 for s in sections)
    assert all(s.endswith("\n") for s in sections)
    assert source.page_text(3) == sections[3]  # the same section however it is reached


def test_a_long_line_is_cut_between_characters(tmp_path: Path) -> None:
    text = "é" * SECTION_BYTES  # two bytes each, no line end
    path = tmp_path / "one-line.txt"
    path.write_bytes(text.encode())
    source = open_source(path, DocumentKind.TEXT)
    assert "".join(source.page_text(i) for i in range(source.page_count)) == text


def test_a_windows_1252_file_is_decoded_as_such(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    path.write_bytes(("caf\xe9 au lait\n" * 10_000).encode("cp1252"))
    source = open_source(path, DocumentKind.TEXT)
    assert source.page_count > 1
    assert source.page_text(0).startswith("café au lait\n")
    assert "\ufffd" not in "".join(source.page_text(i) for i in range(source.page_count))


def test_a_long_docx_page_is_cut_after_a_paragraph(tmp_path: Path) -> None:
    ns = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
    paragraph = "x" * 999
    body = f"<w:p><w:r><w:t>{paragraph}</w:t></w:r></w:p>" * 200  # 200 KB, no page break
    table = "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>cell</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(
            "word/document.xml",
            f'<w:document xmlns:w="{ns}"><w:body>{body}{table}</w:body></w:document>',
        )
    path = tmp_path / "long.docx"
    path.write_bytes(buffer.getvalue())
    source = open_source(path, DocumentKind.DOCX)
    pages = [source.page_text(i) for i in range(source.page_count)]
    assert source.page_count == 4
    assert all(len(page) <= SECTION_BYTES + 1000 for page in pages)
    assert "\n".join(pages) == "\n".join([paragraph] * 200 + ["cell"])
