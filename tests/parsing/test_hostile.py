"""Hostile inputs: each is refused with a specific reason, or parsed safely with exact output.

Bounded time and memory are shown by *how* a file is refused: the zip bomb is rejected from the
central directory (python-docx is never called), the 1 GB file from ``stat`` (it is never opened),
deep JSON by the bracket scan (``json.loads`` is never called).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import NoReturn

import pytest

import knowledgebeast.parsing as parsing
import knowledgebeast.parsing.docx as docx_parser
import knowledgebeast.parsing.json_ as json_parser
from knowledgebeast.errors import ParseError
from knowledgebeast.parsing import ParseLimits, parse_document, parse_file
from tests.utils import hostile_files

MIB = hostile_files.MIB


def _refuse(*_: object, **__: object) -> NoReturn:
    raise AssertionError("must not be reached for a refused file")


def test_zip_bomb_docx_is_refused_before_decompression(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = hostile_files.zip_bomb_docx(tmp_path, 201 * MIB)
    assert path.stat().st_size < 2 * MIB
    monkeypatch.setattr(docx_parser.docx, "Document", _refuse)
    with pytest.raises(ParseError) as caught:
        parse_file(path)
    assert caught.value.status_code == 413
    assert caught.value.reason.startswith("uncompressed size ")
    assert caught.value.reason.endswith(
        f"exceeds the limit of {200 * MIB} (possible zip bomb, refused before decompression)"
    )


def test_zip_bomb_limit_is_configurable(tmp_path: Path) -> None:
    path = hostile_files.zip_bomb_docx(tmp_path, 2 * MIB)
    with pytest.raises(ParseError, match="possible zip bomb"):
        parse_file(path, limits=ParseLimits(max_docx_uncompressed_bytes=MIB))
    # Under a generous limit the same (valid) file parses: the refusal is the limit, not the file.
    assert parse_file(path, limits=ParseLimits(max_docx_uncompressed_bytes=4 * MIB)).text == "zip bomb"


def test_zip_that_under_declares_its_size_gains_nothing(tmp_path: Path) -> None:
    path = hostile_files.lying_zip_docx(tmp_path, real_bytes=4 * MIB, declared_bytes=1000)
    with pytest.raises(ParseError) as caught:
        parse_file(path, limits=ParseLimits(max_docx_uncompressed_bytes=MIB))
    assert caught.value.reason == "corrupt or unreadable .docx"
    assert "CRC" in str(caught.value.__cause__)


def test_xml_entity_expansion_in_docx_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ParseError) as caught:
        parse_file(hostile_files.entity_expansion_docx(tmp_path))
    assert caught.value.reason == "corrupt or unreadable .docx"
    assert "amplification" in str(caught.value.__cause__)


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("self_kids", "corrupt or unreadable PDF"),
        ("mutual_kids", "corrupt or unreadable PDF"),
        ("parent_loop", "corrupt PDF: page 1 has a cyclic or oversized structure (PDF reader safety limit)"),
        ("deep_content", "corrupt PDF: page 1 content nested too deeply"),
    ],
)
def test_cyclic_and_deeply_nested_pdfs_are_refused(tmp_path: Path, kind: str, reason: str) -> None:
    with pytest.raises(ParseError) as caught:
        parse_file(hostile_files.cyclic_pdf(tmp_path, kind))
    assert caught.value.reason == reason
    assert caught.value.status_code == 422


def test_outline_loop_does_not_matter_for_text(tmp_path: Path) -> None:
    document = parse_file(hostile_files.cyclic_pdf(tmp_path, "outline_loop"))
    assert [(s.page, s.text) for s in document.sections] == [(1, "Visible text survives the loop.")]


def test_sparse_1gb_file_is_refused_from_stat_without_opening(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = hostile_files.sparse_file(tmp_path, 1024 * MIB)
    monkeypatch.setattr(parsing, "open", _refuse, raising=False)
    with pytest.raises(ParseError) as caught:
        parse_file(path)
    assert caught.value.status_code == 413
    assert caught.value.reason == f"file size in bytes {1024 * MIB} exceeds the limit of {50 * MIB}"


def test_invalid_utf8_is_decoded_with_replacements(tmp_path: Path) -> None:
    document = parse_file(hostile_files.invalid_utf8_txt(tmp_path))
    assert document.metadata == {"encoding": "utf-8", "replaced_bytes": 2}
    assert document.text.startswith("Grüße aus München. ")
    assert document.text.endswith("\ufffd broken \ufffd end. Schön.")


def test_html_scripts_and_event_handlers_never_reach_the_text(tmp_path: Path) -> None:
    document = parse_file(hostile_files.hostile_html(tmp_path))
    assert document.text == "Safe heading\n\nSafe paragraph link\n\nClosing words."
    assert document.sections[0].heading_path == ("Safe heading",)
    for marker in ("evil", "steal", "javascript", "svg text", "fallback"):
        assert marker not in document.text


def test_html_nested_far_beyond_the_recursion_limit_parses() -> None:
    document = parse_document(b"<div>" * 20_000 + b"deep text" + b"</div>" * 20_000, filename="deep.html")
    assert document.text == "deep text"


def test_html_unterminated_tags_at_eof_are_dropped_not_rescanned() -> None:
    # CPython 3.11's HTMLParser.close() re-scans this tail once per "<" (quadratic: minutes at this size).
    document = parse_document(b"<p>kept</p>" + b"<a" * 50_000, filename="tail.html")
    assert document.text == "kept"


def test_html_unknown_marked_sections_do_not_crash_the_parser() -> None:
    document = parse_document(b"before" + b"<![x>" * 1000 + b"<![CDATA[hidden]]>after", filename="marked.html")
    assert document.text == "beforeafter"


def test_markdown_pathological_heading_is_capped() -> None:
    # Inline-markup cleanup is regex based; an uncapped 600 KB "heading" would take minutes.
    document = parse_document(b"# " + b"*a " * 200_000 + b"\n\nbody", filename="h.md")
    label = document.sections[0].heading_path[0]
    assert label.startswith("*a *a") and 290 <= len(label) <= 300
    assert document.sections[0].text.endswith("body")


def test_huge_titles_and_metadata_are_capped() -> None:
    page = "<html><head><title>" + "t" * 5000 + '</title><meta name="author" content="' + "a" * 5000 + '">'
    document = parse_document((page + "</head><p>x</p>").encode(), filename="t.html")
    assert document.title == "t" * 1000
    assert document.metadata["author"] == "a" * 1000


def test_json_nested_100k_deep_is_refused_before_decoding(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(json_parser.json, "loads", _refuse)
    with pytest.raises(ParseError) as caught:
        parse_file(hostile_files.deep_json(tmp_path, 100_000))
    assert caught.value.reason == "JSON nested deeper than 100 levels"
    deep_objects = '{"a":' * 100_000 + "1" + "}" * 100_000
    with pytest.raises(ParseError, match="nested deeper than 100 levels"):
        parse_document(deep_objects.encode(), filename="objects.json")


def test_deep_json_hidden_in_a_string_is_harmless() -> None:
    document = parse_document(json.dumps({"text": "[" * 100_000}).encode(), filename="s.json")
    assert document.text == "[" * 100_000
