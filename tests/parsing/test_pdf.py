"""PDF: a section per page with exact page numbers, info-dictionary title, refusal of the unreadable."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfReader, PdfWriter

from knowledgebeast.errors import ParseError
from knowledgebeast.parsing import ParseLimits, parse_document
from tests.fixtures.make_fixtures import PDF_PAGES
from tests.parsing.helpers import assert_well_formed, fixture_bytes
from tests.utils.pdf_builder import text_pdf


def test_sample_has_one_section_per_page() -> None:
    document = parse_document(fixture_bytes("sample.pdf"), filename="sample.pdf")
    assert_well_formed(document)
    assert document.media_type == "application/pdf"
    assert [(s.page, s.text) for s in document.sections] == [
        (number, "\n".join(lines)) for number, lines in enumerate(PDF_PAGES, start=1)
    ]
    assert all(s.heading_path == () for s in document.sections)
    assert document.title == "KnowledgeBeast Overview"
    assert document.metadata == {"pages": 3, "author": "Research Team"}


def test_pages_without_text_are_skipped_but_numbering_stays_true() -> None:
    data = text_pdf([["first page"], [], ["third page"]])
    document = parse_document(data, filename="gaps.pdf")
    assert_well_formed(document)
    assert [(s.page, s.text) for s in document.sections] == [(1, "first page"), (3, "third page")]
    assert document.metadata == {"pages": 3}
    assert document.title is None


def test_winansi_accents_survive() -> None:
    document = parse_document(text_pdf([["Résumé, café, naïve"]]), filename="accents.pdf")
    assert document.text == "Résumé, café, naïve"


def test_pdf_without_any_text_is_empty() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(text_pdf([[], []]), filename="scan.pdf")
    assert caught.value.reason == "empty document: no extractable text (scanned or image-only PDF?)"


def test_truncated_pdf_is_corrupt() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(fixture_bytes("corrupt.pdf"), filename="corrupt.pdf")
    assert caught.value.reason == "corrupt or unreadable PDF"
    assert caught.value.status_code == 422
    assert "corrupt.pdf" in caught.value.message


def test_user_password_pdf_is_refused_as_encrypted() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(fixture_bytes("encrypted.pdf"), filename="encrypted.pdf")
    assert caught.value.reason == "encrypted PDF (password required)"
    assert caught.value.status_code == 422


def test_owner_password_only_pdf_opens() -> None:
    writer = PdfWriter(clone_from=PdfReader(io.BytesIO(fixture_bytes("sample.pdf"))))
    writer.encrypt(user_password="", owner_password="owner", algorithm="RC4-128")
    buffer = io.BytesIO()
    writer.write(buffer)
    document = parse_document(buffer.getvalue(), filename="restricted.pdf")
    assert [s.page for s in document.sections] == [1, 2, 3]
    assert document.sections[0].text.startswith("Page one")
    assert document.metadata["encrypted"] is True


def test_page_count_over_limit_is_413() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(fixture_bytes("sample.pdf"), filename="sample.pdf", limits=ParseLimits(max_pages=2))
    assert caught.value.status_code == 413
    assert caught.value.reason == "page count 3 exceeds the limit of 2"


def test_text_over_max_chars_stops_extraction() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(fixture_bytes("sample.pdf"), filename="sample.pdf", limits=ParseLimits(max_chars=50))
    assert caught.value.status_code == 413
    assert caught.value.reason.startswith("extracted text length ")


def test_pdf_magic_wins_over_a_misleading_extension() -> None:
    document = parse_document(fixture_bytes("sample.pdf"), filename="report.txt", media_type="text/plain")
    assert document.media_type == "application/pdf"
    assert document.sections[0].page == 1


def test_declared_pdf_that_is_not_a_pdf_is_corrupt() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(b"just some words", filename="fake.pdf")
    assert caught.value.reason == "corrupt or unreadable PDF"
