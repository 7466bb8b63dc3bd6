"""The parsing contract: limits, the parsed result, and the one way parsers assemble it.

Every format parser returns a :class:`ParsedDocument` whose sections are exact slices of its text,
so a chunker can cite offsets and pages without re-deriving them. Parsers never concatenate the
final text themselves: they hand blocks to :class:`DocumentBuilder`, which keeps the offset
invariant, enforces ``max_chars`` while text accumulates (not after a 2 GB string exists) and turns
an empty result into the same ``empty document`` error for every format.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Protocol

from knowledgebeast.errors import ParseError

MetadataValue = str | int | float | bool

#: Separator between sections (and between blocks a parser marks as paragraphs).
SECTION_SEPARATOR = "\n\n"
#: Longest heading kept in ``heading_path``: a path is citation metadata, not content, and capping it
#: keeps per-heading work (inline-markup cleanup) bounded on a hostile one-line "heading".
MAX_HEADING_CHARS = 300
#: Longest title or metadata string kept: both are copied into every chunk's metadata downstream.
MAX_METADATA_CHARS = 1000


@dataclass(frozen=True)
class ParseLimits:
    """Upper bounds that keep one hostile upload from exhausting a Lambda's memory or time."""

    max_bytes: int = 50 * 1024 * 1024
    max_pages: int = 2000
    max_chars: int = 20_000_000
    max_json_depth: int = 100
    max_docx_uncompressed_bytes: int = 200 * 1024 * 1024  # zip-bomb guard


@dataclass(frozen=True)
class Section:
    """A contiguous slice of the document: a PDF page, or the text under one heading."""

    text: str
    offset: int
    page: int | None = None
    heading_path: tuple[str, ...] = ()


@dataclass(frozen=True)
class ParsedDocument:
    """Whole-document text plus sections; ``text[s.offset:s.offset + len(s.text)] == s.text``."""

    text: str
    sections: tuple[Section, ...]
    title: str | None
    media_type: str
    metadata: dict[str, MetadataValue] = field(default_factory=dict)


class Parser(Protocol):
    """What every format module exports: bytes in, document out, ``ParseError`` on any failure."""

    def __call__(
        self, data: bytes, filename: str, limits: ParseLimits, *, charset: str | None = None
    ) -> ParsedDocument: ...


def too_large(filename: str, what: str, actual: int, limit: int) -> ParseError:
    """The 413 error for any size limit, worded the same way everywhere."""
    return ParseError(filename, f"{what} {actual} exceeds the limit of {limit}", status_code=413)


def heading_label(text: str) -> str:
    """Whitespace-collapsed, length-capped heading text for ``heading_path``."""
    return " ".join(text[: MAX_HEADING_CHARS * 2].split())[:MAX_HEADING_CHARS].strip()


def clean_metadata(values: Mapping[str, object]) -> dict[str, MetadataValue]:
    """Keep only non-None scalars (whitespace-collapsed, capped, non-empty strings): always storable."""
    out: dict[str, MetadataValue] = {}
    for key, value in values.items():
        if isinstance(value, str):
            value = " ".join(value[: MAX_METADATA_CHARS * 2].split())[:MAX_METADATA_CHARS]
            if value:
                out[key] = value
        elif isinstance(value, bool | int | float):
            out[key] = value
    return out


class DocumentBuilder:
    """Accumulates sections with correct offsets and refuses output beyond ``max_chars``."""

    def __init__(self, filename: str, media_type: str, limits: ParseLimits) -> None:
        self.filename = filename
        self.media_type = media_type
        self.limits = limits
        self._parts: list[str] = []
        self._sections: list[Section] = []
        self._length = 0

    def add_section(self, text: str, *, page: int | None = None, heading_path: tuple[str, ...] = ()) -> None:
        """Append ``text`` as a section; whitespace-only text is skipped (nothing to retrieve)."""
        text = text.strip()
        if not text:
            return
        if self._parts:
            self._append(SECTION_SEPARATOR)
        self._sections.append(Section(text=text, offset=self._length, page=page, heading_path=heading_path))
        self._append(text)

    def _append(self, piece: str) -> None:
        self._length += len(piece)
        if self._length > self.limits.max_chars:
            raise too_large(self.filename, "extracted text length", self._length, self.limits.max_chars)
        self._parts.append(piece)

    def build(
        self, *, title: str | None = None, metadata: Mapping[str, object] | None = None, empty_hint: str = ""
    ) -> ParsedDocument:
        """The finished document; no text at all is an ``empty document`` error, not a silent no-op."""
        if not self._sections:
            raise ParseError(self.filename, "empty document" + (f": {empty_hint}" if empty_hint else ""))
        title = " ".join(title[: MAX_METADATA_CHARS * 2].split())[:MAX_METADATA_CHARS] if title else None
        return ParsedDocument(
            text="".join(self._parts),
            sections=tuple(self._sections),
            title=title or None,
            media_type=self.media_type,
            metadata=clean_metadata(metadata or {}),
        )


def sections_from_spans(builder: DocumentBuilder, text: str, spans: list[tuple[int, tuple[str, ...]]]) -> None:
    """Split source ``text`` at ``spans`` (start offset, heading path) into sections.

    Used by formats whose output is the source text itself (markdown): each section's content is
    kept verbatim; only the blank lines between sections are normalised to one separator.
    """
    bounds = [*spans, (len(text), ())]
    for (start, path), (end, _) in pairwise(bounds):
        builder.add_section(text[start:end], heading_path=path)
