"""Media type detection and the two entry points (bytes and paths): dispatch, 413 and 415."""

from __future__ import annotations

from pathlib import Path
from typing import NoReturn

import pytest

from knowledgebeast.errors import ParseError, UnsupportedFormatError
from knowledgebeast.parsing import (
    SUPPORTED_EXTENSIONS,
    ParseLimits,
    detect_media_type,
    parse_document,
    parse_file,
)
from tests.parsing.helpers import DOCS, fixture_bytes

DOCX_TYPE = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def test_supported_extensions() -> None:
    assert frozenset({".txt", ".text", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx", ".json"}) == (
        SUPPORTED_EXTENSIONS
    )


@pytest.mark.parametrize(
    ("filename", "expected"),
    [
        ("a.txt", "text/plain"),
        ("A.MD", "text/markdown"),
        ("a.markdown", "text/markdown"),
        ("a.htm", "text/html"),
        ("a.json", "application/json"),
        ("dir.v2/a.html", "text/html"),
    ],
)
def test_extension_decides_for_text_formats(filename: str, expected: str) -> None:
    assert detect_media_type(filename, b"hello") == expected


def test_magic_bytes_and_extension_for_binary_formats() -> None:
    assert detect_media_type("x.pdf", fixture_bytes("sample.pdf")) == "application/pdf"
    assert detect_media_type("x.docx", fixture_bytes("sample.docx")) == DOCX_TYPE
    assert detect_media_type("no_extension", fixture_bytes("sample.pdf")) == "application/pdf"


@pytest.mark.parametrize(
    ("filename", "declared", "expected"),
    [
        ("notes.md", "text/plain", "text/markdown"),  # text/plain is too vague to override .md
        ("notes.txt", "text/markdown; charset=utf-8", "text/markdown"),
        ("notes.md", "application/octet-stream", "text/markdown"),
        ("upload", "Text/HTML; charset=latin1", "text/html"),
        ("upload", "application/xhtml+xml", "text/html"),
        ("notes.txt", "image/png", "text/plain"),  # a wrong specific label defers to the name
    ],
)
def test_declared_media_type(filename: str, declared: str, expected: str) -> None:
    assert detect_media_type(filename, b"hello", declared) == expected


@pytest.mark.parametrize(
    ("filename", "declared", "reason"),
    [
        ("unsupported.xyz", None, "unsupported file extension '.xyz'"),
        ("unsupported.xyz", "application/octet-stream", "unsupported file extension '.xyz'"),
        ("photo.png", "image/png", "unsupported media type 'image/png'"),
        ("README", None, "no file extension and no supported media type"),
    ],
)
def test_unsupported_types_are_415(filename: str, declared: str | None, reason: str) -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        parse_document(b"plain words", filename=filename, media_type=declared)
    assert caught.value.status_code == 415
    assert caught.value.reason == reason
    assert caught.value.details == {"file": filename, "reason": reason}


def test_unsupported_fixture_is_415_and_still_a_parse_error() -> None:
    with pytest.raises(ParseError) as caught:
        parse_file(DOCS / "unsupported.xyz")
    assert isinstance(caught.value, UnsupportedFormatError)
    assert caught.value.code == "unsupported_format"
    assert caught.value.status_code == 415


def test_pdf_header_after_junk_only_counts_for_unclaimed_files() -> None:
    note = b"# PDF internals\n\nEvery file starts with %PDF-1.7 and ends with %%EOF.\n"
    assert detect_media_type("pdf-notes.md", note) == "text/markdown"
    assert detect_media_type("download", b"junk before the header\n" + fixture_bytes("sample.pdf")) == (
        "application/pdf"
    )


def test_unexpected_library_errors_become_parse_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(*_: object, **__: object) -> NoReturn:
        raise KeyError("surprise")

    import knowledgebeast.parsing.text as text_parser

    monkeypatch.setattr(text_parser, "parse_text", broken)
    with pytest.raises(ParseError) as caught:
        parse_document(b"hello", filename="a.txt")
    assert caught.value.reason == "unexpected parser failure (KeyError)"
    assert isinstance(caught.value.__cause__, KeyError)


def test_zip_that_is_not_claimed_as_docx_is_unsupported() -> None:
    with pytest.raises(UnsupportedFormatError) as caught:
        parse_document(fixture_bytes("sample.docx"), filename="archive.txt")
    assert caught.value.reason == "zip archive (of zip-based formats only .docx is supported)"


def test_bytes_over_max_bytes_are_413_before_detection() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(b"x" * 11, filename="big.xyz", limits=ParseLimits(max_bytes=10))
    assert caught.value.status_code == 413
    assert caught.value.reason == "file size in bytes 11 exceeds the limit of 10"


def test_parse_file_reads_and_dispatches() -> None:
    document = parse_file(DOCS / "sample.pdf")
    assert document.media_type == "application/pdf"
    assert [s.page for s in document.sections] == [1, 2, 3]


def test_parse_file_honours_declared_type(tmp_path: Path) -> None:
    path = tmp_path / "page"
    path.write_bytes(b"<h1>Hi</h1><p>there</p>")
    assert parse_file(path, media_type="text/html").sections[0].heading_path == ("Hi",)


def test_parse_file_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as missing:
        parse_file(tmp_path / "absent.txt")
    assert missing.value.reason == "cannot read file (No such file or directory)"
    assert missing.value.filename == "absent.txt"
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    with pytest.raises(ParseError) as directory:
        parse_file(folder)
    assert directory.value.reason == "not a regular file"
