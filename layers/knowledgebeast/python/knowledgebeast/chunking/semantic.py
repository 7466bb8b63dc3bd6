"""``semantic`` (default): structure-aware chunks that never cut a sentence or cross a heading.

Sections (markdown/HTML/docx headings, PDF pages) are hard boundaries; inside a section whole
sentences are packed up to ``size`` characters, a paragraph break is preferred as a cut point,
and the overlap repeats whole trailing sentences. A sentence longer than the token budget is the
only thing ever split mid-sentence (at word boundaries). Topic-shift detection by embedding
similarity was considered and rejected: it embeds every sentence (2x ingest cost) for no gain
on the benchmark (see docs/benchmarks.md).
"""

from __future__ import annotations

from knowledgebeast.chunking.base import Chunk, ChunkingConfig, Span, TokenCounter, finalize, section_bounds
from knowledgebeast.chunking.splitting import Range, SizeGuard, pack, paragraphs, sentences, split_to_fit, words
from knowledgebeast.parsing.base import ParsedDocument

MAX_HEADING_CHARS = 120


class SemanticChunker:
    name = "semantic"

    def __init__(self, config: ChunkingConfig, counter: TokenCounter) -> None:
        self.config = config
        self.counter = counter

    def chunk(self, document: ParsedDocument) -> list[Chunk]:
        guard = SizeGuard(
            document.text, self.counter, max_chars=self.config.max_size, max_tokens=self.config.max_tokens
        )
        spans: list[Span] = []
        for section in document.sections:
            start, end = section_bounds(section)
            for para_start, para_end in self._paragraph_groups(guard, start, end):
                pieces: list[Range] = []
                for sent in sentences(document.text, para_start, para_end):
                    pieces.extend(split_to_fit(guard, *sent, [words]))
                for chunk_start, chunk_end in pack(
                    guard, pieces, target_chars=self.config.size, overlap_chars=self.config.overlap
                ):
                    spans.append(Span(chunk_start, chunk_end, section.page, section.heading_path))
        return finalize(document, spans)

    def _paragraph_groups(self, guard: SizeGuard, start: int, end: int) -> list[Range]:
        """Merge consecutive short paragraphs so tiny ones (list items, captions) share a chunk.

        A heading-like line (one short line) always joins the paragraph after it: a chunk holding
        only "Rate limiting" answers nothing, and the heading is already in the chunk's context.
        """
        groups: list[Range] = []
        for para_start, para_end in paragraphs(guard.text, start, end):
            previous = guard.text[groups[-1][0] : groups[-1][1]].strip() if groups else ""
            heading_like = bool(previous) and "\n" not in previous and len(previous) <= MAX_HEADING_CHARS
            fits = bool(groups) and para_end - groups[-1][0] <= self.config.size and guard.fits(groups[-1][0], para_end)
            if heading_like or fits:
                groups[-1] = (groups[-1][0], para_end)
            else:
                groups.append((para_start, para_end))
        return groups
