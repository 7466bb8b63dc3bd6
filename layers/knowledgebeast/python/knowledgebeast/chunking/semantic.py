"""``semantic`` (default): structure-aware chunks that never cut a sentence or cross a heading.

Sections (markdown/HTML/docx headings, PDF pages) are hard boundaries; inside a section whole
sentences are packed up to ``size`` characters, a paragraph break is preferred as a cut point,
and the overlap repeats whole trailing sentences. A sentence longer than the token budget is the
only thing ever split mid-sentence (at word boundaries). Topic-shift detection by embedding
similarity between sentences was not built: it embeds every sentence (about twice the ingest
cost) and was not measured here.
"""

from __future__ import annotations

from collections.abc import Iterable

from knowledgebeast.chunking.base import SectionChunker
from knowledgebeast.chunking.splitting import Range, SizeGuard, paragraphs, sentences, split_to_fit, words

MAX_HEADING_CHARS = 120


class SemanticChunker(SectionChunker):
    name = "semantic"

    def max_chars(self) -> int:
        return self.config.max_size

    def groups(self, guard: SizeGuard, start: int, end: int) -> Iterable[list[Range]]:
        for para_start, para_end in self._paragraph_groups(guard, start, end):
            yield [
                piece
                for sent in sentences(guard.text, para_start, para_end)
                for piece in split_to_fit(guard, *sent, [words])
            ]

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
