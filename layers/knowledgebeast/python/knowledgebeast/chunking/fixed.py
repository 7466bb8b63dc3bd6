"""``fixed``: windows of ``size`` characters with ``overlap``, snapped to word boundaries.

The simplest strategy, kept for corpora without prose structure (logs, tables as text).
"""

from __future__ import annotations

from collections.abc import Iterable

from knowledgebeast.chunking.base import SectionChunker
from knowledgebeast.chunking.splitting import Range, SizeGuard, split_to_fit, words


class FixedChunker(SectionChunker):
    name = "fixed"

    def groups(self, guard: SizeGuard, start: int, end: int) -> Iterable[list[Range]]:
        yield [piece for word in words(guard.text, start, end) for piece in split_to_fit(guard, *word, [])]
