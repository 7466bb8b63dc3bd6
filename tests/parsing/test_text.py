"""Plain text and the shared decoder: BOMs, declared charsets, legacy encodings, binary refusal."""

from __future__ import annotations

import random

import pytest

from knowledgebeast.errors import ParseError
from knowledgebeast.parsing import ParseLimits, parse_document
from tests.fixtures.make_fixtures import LATIN1_TXT, SAMPLE_TXT, UTF16_TXT
from tests.parsing.helpers import assert_well_formed, fixture_bytes


def _parse(data: bytes, media_type: str | None = None, **limits: int) -> tuple[str, dict[str, object]]:
    document = parse_document(data, filename="t.txt", media_type=media_type, limits=ParseLimits(**limits))
    assert_well_formed(document)
    return document.text, dict(document.metadata)


def test_sample_txt_is_one_section_with_utf8_text() -> None:
    document = parse_document(fixture_bytes("sample.txt"), filename="sample.txt")
    assert_well_formed(document)
    assert document.media_type == "text/plain"
    assert document.text == SAMPLE_TXT.strip()
    assert [(s.offset, s.page, s.heading_path) for s in document.sections] == [(0, None, ())]
    assert document.title is None
    assert document.metadata == {"encoding": "utf-8"}


def test_windows_1252_file_is_detected_and_crlf_normalised() -> None:
    text, metadata = _parse(fixture_bytes("sample_latin1.txt"))
    assert metadata["encoding"] == "windows-1252"
    assert text == LATIN1_TXT.replace("\r\n", "\n").strip()
    assert "\r" not in text


def test_utf16_with_bom() -> None:
    text, metadata = _parse(fixture_bytes("sample_utf16.txt"))
    assert metadata["encoding"] == "utf-16-le"
    assert text == UTF16_TXT.strip()


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (b"\xef\xbb\xbfBOM text \xc3\xa9", "utf-8"),
        ("\ufeffBOM text é".encode("utf-16-be"), "utf-16-be"),
        ("\ufeffBOM text é".encode("utf-32-le"), "utf-32-le"),
        ("BOM text é\n".encode("utf-16-le"), "utf-16-le"),  # no BOM: detected from the NUL pattern
    ],
)
def test_unicode_variants_decode_without_bom_residue(data: bytes, encoding: str) -> None:
    text, metadata = _parse(data)
    assert text == "BOM text é"
    assert metadata["encoding"] == encoding


def test_declared_charset_is_honoured() -> None:
    russian = "Привет, мир"
    text, metadata = _parse(russian.encode("koi8-r"), media_type="text/plain; charset=KOI8-R")
    assert text == russian
    assert metadata["encoding"] == "koi8-r"


def test_declared_latin1_means_windows_1252_like_browsers() -> None:
    text, metadata = _parse(b"\x93quoted\x94 caf\xe9", media_type="text/plain; charset=iso-8859-1")
    assert text == "\u201cquoted\u201d café"
    assert metadata["encoding"] == "windows-1252"


def test_cyrillic_legacy_encoding_goes_to_charset_normalizer() -> None:
    russian = "Привет, мир! Это тестовый документ на русском языке."
    text, metadata = _parse(russian.encode("cp1251"))
    assert text == russian
    assert metadata["encoding"] == "cp1251"


def test_lone_carriage_returns_become_newlines() -> None:
    text, _ = _parse(b"one\rtwo\r\nthree\n")
    assert text == "one\ntwo\nthree"


@pytest.mark.parametrize("data", [b"", b"  \n\t \r\n  "])
def test_empty_or_whitespace_is_an_empty_document(data: bytes) -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(data, filename="empty.txt")
    assert caught.value.reason == "empty document"
    assert caught.value.status_code == 422
    assert "empty.txt" in caught.value.message


def test_empty_fixture() -> None:
    with pytest.raises(ParseError, match="empty document"):
        parse_document(fixture_bytes("empty.txt"), filename="empty.txt")


def test_random_bytes_are_binary_content() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(fixture_bytes("garbage.txt"), filename="garbage.txt")
    assert caught.value.reason == "binary content (contains NUL bytes)"
    assert caught.value.details == {"file": "garbage.txt", "reason": caught.value.reason}


def test_control_characters_without_nul_are_binary_content() -> None:
    rng = random.Random(7)
    data = bytes(rng.randrange(1, 0x20) for _ in range(400)) + b"a few letters"
    with pytest.raises(ParseError, match=r"binary content \(\d+ control characters in \d+\)"):
        parse_document(data, filename="controls.txt")


def test_high_bytes_with_no_plausible_encoding_are_binary_content() -> None:
    rng = random.Random(3)
    data = bytes(rng.randrange(0x80, 0x100) for _ in range(4096))
    with pytest.raises(ParseError) as caught:
        parse_document(data, filename="noise.txt")
    assert caught.value.reason == "binary content (no plausible text encoding)"


def test_text_over_max_chars_is_413() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(b"x" * 101, filename="long.txt", limits=ParseLimits(max_chars=100))
    assert caught.value.status_code == 413
    assert caught.value.reason == "extracted text length 101 exceeds the limit of 100"
