"""Markdown: verbatim text, sections at headings, front matter lifted into title and metadata."""

from __future__ import annotations

from knowledgebeast.parsing import ParsedDocument, parse_document
from tests.parsing.helpers import assert_well_formed, fixture_bytes


def _md(source: str) -> ParsedDocument:
    document = parse_document(source.encode(), filename="doc.md")
    assert_well_formed(document)
    return document


def test_sample_heading_paths_and_titles() -> None:
    document = parse_document(fixture_bytes("sample.md"), filename="sample.md")
    assert_well_formed(document)
    assert document.media_type == "text/markdown"
    assert document.title == "Deployment Guide"  # front matter beats the first H1
    assert document.metadata == {"encoding": "utf-8", "author": "Platform Team"}
    assert [s.heading_path for s in document.sections] == [
        (),
        ("Deploy to AWS",),
        ("Deploy to AWS", "Bootstrap"),
        ("Deploy to AWS", "Bootstrap", "Check the stack"),
        ("Deploy to AWS", "Rollback"),
        ("Deploy to AWS", "Setext Section"),
        ("Operate",),
    ]
    assert document.sections[0].text == "Intro paragraph before any heading."
    assert document.sections[1].text == "# Deploy to AWS\n\nOverview of the deployment."
    assert document.sections[5].text == "Setext Section\n--------------\n\nUse the previous version's artifact."


def test_front_matter_is_not_body_text() -> None:
    document = parse_document(fixture_bytes("sample.md"), filename="sample.md")
    assert document.text.startswith("Intro paragraph")
    assert "tags:" not in document.text
    assert "tags" not in document.metadata  # lists are not scalars


def test_code_fences_keep_their_hash_lines_as_text() -> None:
    document = parse_document(fixture_bytes("sample.md"), filename="sample.md")
    bootstrap = document.sections[2]
    assert "# this is a shell comment, not a heading" in bootstrap.text
    assert bootstrap.text.endswith("```")
    assert all("shell comment" not in part for s in document.sections for part in s.heading_path)


def test_markdown_syntax_is_kept_readable() -> None:
    document = parse_document(fixture_bytes("sample.md"), filename="sample.md")
    assert "| core  | ready  |" in document.text
    assert "[dashboards](https://example.com/dash)" in document.text
    assert "Run `cdk bootstrap` once per account." in document.text


def test_title_falls_back_to_first_h1_then_none() -> None:
    assert _md("Intro\n\n## Minor\n\ntext\n\n# Major\n\nmore").title == "Major"
    assert _md("## Only minor\n\ntext").title is None


def test_skipped_levels_and_popping() -> None:
    document = _md("# A\n\n### A3\n\nx\n\n## B2\n\ny\n\n# C\n\nz\n\n#### C4\n\nw")
    assert [s.heading_path for s in document.sections] == [("A",), ("A", "A3"), ("A", "B2"), ("C",), ("C", "C4")]


def test_setext_h1_and_thematic_break() -> None:
    document = _md("Big Title\n=========\n\nbody\n\n---\n\nafter the rule")
    assert document.title == "Big Title"
    assert [s.heading_path for s in document.sections] == [("Big Title",)]
    assert document.text.endswith("---\n\nafter the rule")


def test_list_item_followed_by_dashes_is_not_a_heading() -> None:
    document = _md("- item\n---\n\ntext")
    assert [s.heading_path for s in document.sections] == [()]


def test_heading_inline_markup_is_cleaned_in_paths() -> None:
    document = _md("# Deploy `my_app` with [CDK](https://cdk.dev) and **care** ##\n\nbody")
    assert document.sections[0].heading_path == ("Deploy my_app with CDK and care",)
    assert document.sections[0].text.startswith("# Deploy `my_app` with [CDK](https://cdk.dev)")


def test_hashtag_without_space_is_not_a_heading() -> None:
    assert _md("#hashtag at line start\n\ntext").sections[0].heading_path == ()


def test_tilde_fence_and_longer_closing_fence() -> None:
    document = _md("~~~~\n# not heading\n~~~~~\n\n# Real\n\nx")
    assert [s.heading_path for s in document.sections] == [(), ("Real",)]


def test_unclosed_front_matter_is_body_text() -> None:
    document = _md("---\ntitle: nope\n\n# Heading\n\nbody")
    assert document.title == "Heading"
    assert document.text.startswith("---\ntitle: nope")


def test_offsets_are_exact_with_crlf_source() -> None:
    document = parse_document(b"# One\r\n\r\nfirst\r\n\r\n## Two\r\n\r\nsecond\r\n", filename="crlf.md")
    assert_well_formed(document)
    assert document.text == "# One\n\nfirst\n\n## Two\n\nsecond"
    assert [(s.offset, s.heading_path) for s in document.sections] == [(0, ("One",)), (14, ("One", "Two"))]
