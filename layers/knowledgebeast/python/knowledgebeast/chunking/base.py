"""Chunk model and the contract every chunking strategy follows.

Sizes: ``size``/``overlap``/``max_size`` are characters (the deployment guide's 512/50/2048), and
``max_tokens`` is a hard cap in the *embedding tokenizer's* tokens: all-MiniLM-L6-v2 reads 256
wordpieces (254 without [CLS]/[SEP]) and silently drops the rest, so no chunk may exceed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from knowledgebeast.parsing.base import ParsedDocument, Section

if TYPE_CHECKING:
    from knowledgebeast.chunking.splitting import Range, SizeGuard
    from knowledgebeast.embedding.base import TokenCounterProtocol


@dataclass(frozen=True)
class ChunkingConfig:
    size: int = 512
    overlap: int = 50
    max_size: int = 2048
    max_tokens: int = 224


@dataclass(frozen=True)
class Chunk:
    """A span of a document, cut so that an answer can cite it exactly."""

    text: str
    index: int
    start: int
    end: int
    page: int | None = None
    heading_path: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Span:
    """A candidate piece: ``[start, end)`` in the document text plus its section's context."""

    start: int
    end: int
    page: int | None
    heading_path: tuple[str, ...]


class ChunkerProtocol(Protocol):
    name: str

    def chunk(self, document: ParsedDocument) -> list[Chunk]: ...


def finalize(document: ParsedDocument, spans: list[Span]) -> list[Chunk]:
    """Trim whitespace, drop empty spans and number the chunks in document order."""
    chunks: list[Chunk] = []
    text = document.text
    for span in spans:
        start, end = span.start, span.end
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if start >= end:
            continue
        chunks.append(
            Chunk(
                text=text[start:end],
                index=len(chunks),
                start=start,
                end=end,
                page=span.page,
                heading_path=span.heading_path,
            )
        )
    return chunks


def section_bounds(section: Section) -> tuple[int, int]:
    return section.offset, section.offset + len(section.text)


class SectionChunker:
    """Template of every strategy: sections are hard boundaries; inside one, a strategy proposes
    groups of small ranges (:meth:`groups`) that are packed up to ``size`` with ``overlap``.

    ``max_chars`` bounds a single piece (the guard); the token cap always applies.
    """

    name = "base"

    def __init__(self, config: ChunkingConfig, counter: TokenCounterProtocol) -> None:
        self.config = config
        self.counter = counter

    def max_chars(self) -> int:
        return self.config.size

    def groups(self, guard: SizeGuard, start: int, end: int) -> Iterable[list[Range]]:
        raise NotImplementedError

    def chunk(self, document: ParsedDocument) -> list[Chunk]:
        from knowledgebeast.chunking.splitting import SizeGuard, pack

        guard = SizeGuard(document.text, self.counter, max_chars=self.max_chars(), max_tokens=self.config.max_tokens)
        spans: list[Span] = []
        for section in document.sections:
            for pieces in self.groups(guard, *section_bounds(section)):
                for chunk_start, chunk_end in pack(
                    guard, pieces, target_chars=self.config.size, overlap_chars=self.config.overlap
                ):
                    spans.append(Span(chunk_start, chunk_end, section.page, section.heading_path))
        return finalize(document, spans)
