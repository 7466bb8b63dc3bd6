"""Shared by the parsing tests: fixture access and the invariants every ParsedDocument must hold."""

from __future__ import annotations

from pathlib import Path

from knowledgebeast.parsing import ParsedDocument

DOCS = Path(__file__).resolve().parents[1] / "fixtures" / "docs"


def fixture_bytes(name: str) -> bytes:
    return (DOCS / name).read_bytes()


def assert_well_formed(document: ParsedDocument) -> None:
    """Sections are non-empty, trimmed, ordered, non-overlapping exact slices of the text."""
    assert document.sections, "a parsed document always has at least one section"
    previous_end = 0
    for section in document.sections:
        assert section.text
        assert section.text == section.text.strip()
        assert document.text[section.offset : section.offset + len(section.text)] == section.text
        assert section.offset >= previous_end
        previous_end = section.offset + len(section.text)
    assert document.text == document.text.strip()
    assert all(isinstance(value, str | int | float | bool) for value in document.metadata.values())
    assert all(value != "" for value in document.metadata.values())
