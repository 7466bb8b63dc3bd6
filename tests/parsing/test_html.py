"""HTML: visible text only, headings to paths, block structure to newlines."""

from __future__ import annotations

import pytest

from knowledgebeast.errors import ParseError
from knowledgebeast.parsing import ParsedDocument, parse_document
from tests.parsing.helpers import assert_well_formed, fixture_bytes


def _html(source: str | bytes, media_type: str | None = None) -> ParsedDocument:
    data = source.encode() if isinstance(source, str) else source
    document = parse_document(data, filename="page.html", media_type=media_type)
    assert_well_formed(document)
    return document


def test_sample_structure_title_and_metadata() -> None:
    document = _html(fixture_bytes("sample.html"))
    assert document.media_type == "text/html"
    assert document.title == "Operations Handbook"
    assert document.metadata == {"encoding": "utf-8", "language": "en", "author": "Ops Team"}
    assert [(s.heading_path, s.text) for s in document.sections] == [
        ((), "Home"),
        (("Runbook",), "Runbook\n\nRestart the service with care & patience."),
        (("Runbook", "Alerts"), "Alerts\n\n- Page the on-call engineer\n- Open an incident"),
        (("Runbook", "Alerts", "Escalation"), "Escalation\n\nLevel | Contact\n1 | Team lead"),
        (("Runbook", "Maintenance"), "Maintenance\n\n  sudo systemctl restart app\n    --now"),
    ]


def test_script_style_noscript_template_and_handlers_are_absent() -> None:
    text = _html(fixture_bytes("sample.html")).text
    for hidden in (
        "SECRET_TOKEN",
        "do-not-index",
        "injected",
        "color: red",
        "secret-style",
        "xss in body",
        "enable JavaScript",
        "Template content",
        "trackUser",
        "steal",
        "javascript",
        "Operations Handbook",  # the <title> is the title, not body text
    ):
        assert hidden not in text


def test_title_falls_back_to_first_h1() -> None:
    document = _html("<body><h2>Second level</h2><p>x</p><h1>The  <i>Main</i> Title</h1><p>y</p></body>")
    assert document.title == "The Main Title"
    assert [s.heading_path for s in document.sections] == [("Second level",), ("The Main Title",)]


def test_meta_charset_is_used_for_legacy_pages() -> None:
    document = _html(b'<html><head><meta charset="windows-1252"></head><body><p>caf\xe9 \x80</p></body></html>')
    assert document.text == "café €"
    assert document.metadata["encoding"] == "windows-1252"


def test_declared_charset_overrides_meta() -> None:
    data = '<meta charset="utf-8"><p>Привет</p>'.encode("koi8-r")
    document = _html(data, media_type="text/html; charset=koi8-r")
    assert document.text == "Привет"


def test_unclosed_head_does_not_hide_the_body() -> None:
    document = _html("<html><head><title>T</title><p>Body text survives</p>")
    assert document.text == "Body text survives"
    assert document.title == "T"


def test_whitespace_collapses_but_paragraphs_stay_apart() -> None:
    document = _html("<div>  one\n\n   two  </div><p>three</p>line<br>break")
    assert document.text == "one two\n\nthree\n\nline\nbreak"


def test_entities_are_decoded() -> None:
    assert _html("<p>&lt;tag&gt; &amp; &#x263A; &eacute;</p>").text == "<tag> & \u263a é"


def test_script_only_page_is_empty() -> None:
    with pytest.raises(ParseError, match="empty document"):
        _html("<html><head><title>Only a title</title><script>run()</script></head><body></body></html>")
