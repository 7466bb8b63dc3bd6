"""Word .docx: paragraphs and tables in order, heading paths, titles, broken packages refused."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable

import docx
import pytest
from docx.document import Document as DocxDocument
from docx.oxml import OxmlElement
from docx.oxml.ns import qn

from knowledgebeast.errors import ParseError
from knowledgebeast.parsing import ParsedDocument, parse_document
from tests.parsing.helpers import assert_well_formed, fixture_bytes

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _build(fill: Callable[[DocxDocument], object], *, title: str = "") -> ParsedDocument:
    document = docx.Document()
    document.core_properties.title = title
    fill(document)
    buffer = io.BytesIO()
    document.save(buffer)
    parsed = parse_document(buffer.getvalue(), filename="built.docx")
    assert_well_formed(parsed)
    return parsed


def test_sample_sections_tables_and_title() -> None:
    document = parse_document(fixture_bytes("sample.docx"), filename="sample.docx")
    assert_well_formed(document)
    assert document.media_type == DOCX_TYPE
    assert document.title == "Employee Handbook"
    assert document.metadata == {"author": "HR Department"}
    assert [(s.heading_path, s.text) for s in document.sections] == [
        ((), "Employee Handbook\n\nWelcome to the company."),
        (("Benefits",), "Benefits\n\nEveryone gets health insurance."),
        (("Benefits", "Vacation"), "Vacation\n\nTwenty-five days per year.\n\nYears | Days\n0-5 | 25\n5+ | 30"),
        (("Benefits", "Vacation", "Carry-over"), "Carry-over\n\nUp to five days carry over."),
        (("Conduct",), "Conduct\n\nBe kind."),
    ]
    assert all(s.page is None for s in document.sections)


def test_title_falls_back_to_title_style_then_first_top_heading() -> None:
    def with_title_style(d: DocxDocument) -> None:
        d.add_paragraph("Styled Title", style="Title")
        d.add_heading("Heading", level=1)

    def headings_only(d: DocxDocument) -> None:
        d.add_heading("Minor first", level=2)
        d.add_heading("Major", level=1)
        d.add_paragraph("body")

    assert _build(with_title_style).title == "Styled Title"
    assert _build(headings_only).title == "Major"


def test_outline_level_marks_headings_with_localised_style_names() -> None:
    def fill(d: DocxDocument) -> None:
        paragraph = d.add_paragraph("Überblick")
        outline = OxmlElement("w:outlineLvl")
        outline.set(qn("w:val"), "0")
        paragraph._p.get_or_add_pPr().append(outline)
        d.add_paragraph("Inhalt")

    document = _build(fill)
    assert [(s.heading_path, s.text) for s in document.sections] == [(("Überblick",), "Überblick\n\nInhalt")]


def test_merged_cells_appear_once_and_nested_tables_are_read() -> None:
    def fill(d: DocxDocument) -> None:
        table = d.add_table(rows=2, cols=3)
        merged = table.cell(0, 0).merge(table.cell(0, 2))
        merged.text = "Wide header"
        table.cell(1, 0).text = "a"
        table.cell(1, 1).text = "b"
        inner = table.cell(1, 2).add_table(rows=1, cols=2)
        inner.cell(0, 0).text, inner.cell(0, 1).text = "x", "y"

    assert _build(fill).text == "Wide header\na | b | x | y"


def test_random_bytes_are_not_a_docx() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(fixture_bytes("not_a_docx.docx"), filename="not_a_docx.docx")
    assert caught.value.reason == "not a valid .docx (not a zip archive)"
    assert caught.value.status_code == 422


def test_zip_without_word_document_is_corrupt() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "not word")
    with pytest.raises(ParseError) as caught:
        parse_document(buffer.getvalue(), filename="other.docx")
    assert caught.value.reason == "corrupt or unreadable .docx"


def test_document_with_only_empty_paragraphs_is_empty() -> None:
    with pytest.raises(ParseError, match="empty document"):
        _build(lambda d: d.add_paragraph("   "))
