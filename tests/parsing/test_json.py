"""JSON: document objects give their text fields, other JSON flattens to key.path lines."""

from __future__ import annotations

import json

import pytest

from knowledgebeast.errors import ParseError
from knowledgebeast.parsing import ParsedDocument, ParseLimits, parse_document
from tests.fixtures.make_fixtures import SAMPLE_JSON
from tests.parsing.helpers import assert_well_formed, fixture_bytes


def _json(value: object, **limits: int) -> ParsedDocument:
    document = parse_document(json.dumps(value).encode(), filename="data.json", limits=ParseLimits(**limits))
    assert_well_formed(document)
    return document


def test_sample_document_object_uses_body_and_title() -> None:
    document = parse_document(fixture_bytes("sample.json"), filename="sample.json")
    assert_well_formed(document)
    assert document.media_type == "application/json"
    assert document.text == SAMPLE_JSON["body"]
    assert document.title == "Release Notes 2.0"
    assert document.metadata == {"encoding": "utf-8", "author": "Docs Bot"}
    assert "release" not in document.text  # tags are not document text


def test_each_text_field_is_a_section_in_fixed_order() -> None:
    document = _json({"body": "the body", "content": "the content", "text": "the text"})
    assert [s.text for s in document.sections] == ["the text", "the content", "the body"]


def test_other_json_is_flattened_to_key_paths() -> None:
    document = _json(
        {
            "service": {"name": "api", "ports": [80, 443], "enabled": True, "owner": None, "ratio": 0.5},
            "empty": "",
            "title": "Service config",
        }
    )
    assert document.text == (
        "service.name: api\n"
        "service.ports[0]: 80\n"
        "service.ports[1]: 443\n"
        "service.enabled: true\n"
        "service.ratio: 0.5\n"
        "title: Service config"
    )
    assert document.title == "Service config"


def test_top_level_array_and_scalar() -> None:
    assert _json([{"a": 1}, {"a": 2}]).text == "[0].a: 1\n[1].a: 2"
    assert _json("just a string").text == "just a string"


def test_empty_text_field_falls_back_to_flattening() -> None:
    assert _json({"text": "  ", "note": "kept"}).text == "note: kept"


def test_invalid_json_reports_position() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(fixture_bytes("invalid.json"), filename="invalid.json")
    assert caught.value.reason == "invalid JSON: Expecting ',' delimiter at line 1 column 47"
    assert caught.value.status_code == 422


def test_depth_limit_is_exact() -> None:
    assert _json(json.loads("[" * 100 + "1" + "]" * 100)).text == "[0]" * 99 + "[0]: 1"
    with pytest.raises(ParseError) as caught:
        parse_document(("[" * 101 + "]" * 101).encode(), filename="deep.json")
    assert caught.value.reason == "JSON nested deeper than 100 levels"


def test_brackets_inside_strings_do_not_count_towards_depth() -> None:
    document = _json({"text": '[[[[{{{{ "quoted \\" [[[[' * 50})
    assert document.text.startswith("[[[[{{{{")


def test_configured_depth_limit() -> None:
    with pytest.raises(ParseError, match="nested deeper than 2 levels"):
        _json({"a": {"b": {"c": 1}}}, max_json_depth=2)


def test_huge_integer_is_refused_not_crashing() -> None:
    with pytest.raises(ParseError) as caught:
        parse_document(b'{"n": ' + b"9" * 5000 + b"}", filename="big.json")
    assert caught.value.reason == "invalid JSON: value out of range"


def test_flattening_blowup_is_stopped_at_max_chars() -> None:
    # ~4 KB of JSON whose key path (1 KB) is repeated on each of 200 leaf lines: ~200 KB of output.
    nested: object = {f"leaf{i}": i for i in range(200)}
    for level in range(10):
        nested = {f"{level}" + "k" * 99: nested}
    with pytest.raises(ParseError) as caught:
        _json(nested, max_chars=100_000)
    assert caught.value.status_code == 413
    assert caught.value.reason.startswith("flattened JSON text length ")


def test_utf8_bom_is_accepted() -> None:
    document = parse_document(b'\xef\xbb\xbf{"text": "with bom"}', filename="bom.json")
    assert document.text == "with bom"
