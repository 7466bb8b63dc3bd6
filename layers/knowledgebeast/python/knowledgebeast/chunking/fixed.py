"""``fixed``: windows of ``size`` characters with ``overlap``, snapped to word boundaries.

The simplest strategy, kept for corpora without prose structure (logs, tables as text).
"""

from __future__ import annotations

from knowledgebeast.chunking.base import Chunk, ChunkingConfig, Span, TokenCounter, finalize, section_bounds
from knowledgebeast.chunking.splitting import SizeGuard, pack, split_to_fit, words
from knowledgebeast.parsing.base import ParsedDocument


class FixedChunker:
    name = "fixed"

    def __init__(self, config: ChunkingConfig, counter: TokenCounter) -> None:
        self.config = config
        self.counter = counter

    def chunk(self, document: ParsedDocument) -> list[Chunk]:
        guard = SizeGuard(document.text, self.counter, max_chars=self.config.size, max_tokens=self.config.max_tokens)
        spans: list[Span] = []
        for section in document.sections:
            start, end = section_bounds(section)
            pieces = [p for word in words(document.text, start, end) for p in split_to_fit(guard, *word, [])]
            for chunk_start, chunk_end in pack(
                guard, pieces, target_chars=self.config.size, overlap_chars=self.config.overlap
            ):
                spans.append(Span(chunk_start, chunk_end, section.page, section.heading_path))
        return finalize(document, spans)
