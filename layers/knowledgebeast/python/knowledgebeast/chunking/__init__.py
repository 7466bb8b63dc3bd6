"""Chunking strategies: ``semantic`` (default), ``recursive`` and ``fixed``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from knowledgebeast.chunking.base import Chunk, ChunkerProtocol, ChunkingConfig
from knowledgebeast.chunking.fixed import FixedChunker
from knowledgebeast.chunking.recursive import RecursiveChunker
from knowledgebeast.chunking.semantic import SemanticChunker

if TYPE_CHECKING:
    from knowledgebeast.embedding.base import TokenCounterProtocol

STRATEGIES: dict[str, type[SemanticChunker | RecursiveChunker | FixedChunker]] = {
    "semantic": SemanticChunker,
    "recursive": RecursiveChunker,
    "fixed": FixedChunker,
}


def make_chunker(strategy: str, config: ChunkingConfig, counter: TokenCounterProtocol) -> ChunkerProtocol:
    """The chunker for ``strategy``; unknown names are a configuration error, not a fallback."""
    try:
        chunker_class = STRATEGIES[strategy]
    except KeyError:
        from knowledgebeast.errors import ValidationError

        raise ValidationError(
            f"unknown chunking strategy {strategy!r}", details={"allowed": sorted(STRATEGIES)}
        ) from None
    return chunker_class(config, counter)


__all__ = ["STRATEGIES", "Chunk", "ChunkerProtocol", "ChunkingConfig", "make_chunker"]
