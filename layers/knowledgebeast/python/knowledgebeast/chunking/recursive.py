"""``recursive``: split on paragraphs, then lines, sentences, words; merge back up to ``size``.

The LangChain-style splitter: cheap and predictable, respects the coarsest boundary that fits.
"""

from __future__ import annotations

from collections.abc import Iterable

from knowledgebeast.chunking.base import SectionChunker
from knowledgebeast.chunking.splitting import Range, SizeGuard, lines, paragraphs, sentences, split_to_fit, words


class RecursiveChunker(SectionChunker):
    name = "recursive"

    def groups(self, guard: SizeGuard, start: int, end: int) -> Iterable[list[Range]]:
        yield split_to_fit(guard, start, end, [paragraphs, lines, sentences, words])
