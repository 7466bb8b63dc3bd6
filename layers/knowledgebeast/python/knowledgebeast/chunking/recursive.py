"""``recursive``: split on paragraphs, then lines, sentences, words; merge back up to ``size``.

The LangChain-style splitter: cheap and predictable, respects the coarsest boundary that fits.
"""

from __future__ import annotations

from knowledgebeast.chunking.base import Chunk, ChunkingConfig, Span, TokenCounter, finalize, section_bounds
from knowledgebeast.chunking.splitting import SizeGuard, lines, pack, paragraphs, sentences, split_to_fit, words
from knowledgebeast.parsing.base import ParsedDocument


class RecursiveChunker:
    name = "recursive"

    def __init__(self, config: ChunkingConfig, counter: TokenCounter) -> None:
        self.config = config
        self.counter = counter

    def chunk(self, document: ParsedDocument) -> list[Chunk]:
        guard = SizeGuard(document.text, self.counter, max_chars=self.config.size, max_tokens=self.config.max_tokens)
        spans: list[Span] = []
        for section in document.sections:
            start, end = section_bounds(section)
            pieces = split_to_fit(guard, start, end, [paragraphs, lines, sentences, words])
            for chunk_start, chunk_end in pack(
                guard, pieces, target_chars=self.config.size, overlap_chars=self.config.overlap
            ):
                spans.append(Span(chunk_start, chunk_end, section.page, section.heading_path))
        return finalize(document, spans)
