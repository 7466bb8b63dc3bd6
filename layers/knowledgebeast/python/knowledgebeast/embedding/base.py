"""What the rest of KnowledgeBeast may assume about an embedder and a token counter.

Callers (ingest, query, chunking) are typed against these protocols so tests can pass a fake and
a deployment can swap the backend without touching them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt


@runtime_checkable
class EmbedderProtocol(Protocol):
    """Maps texts to unit-length vectors, comparable by dot product (= cosine).

    Guarantees: ``embed`` returns float32 of shape ``(len(texts), dimension)`` with L2-normalised
    rows, in input order; an empty sequence gives shape ``(0, dimension)``. Text beyond
    ``max_tokens`` word pieces is ignored by the model, so chunkers must respect it.
    """

    model_id: str
    dimension: int
    max_tokens: int

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """Embed ``texts``; rows are L2-normalised."""
        ...


@runtime_checkable
class TokenCounterProtocol(Protocol):
    """Counts text in the embedder's own word pieces, which is what its token limit is about.

    Counts and spans exclude the special ``[CLS]``/``[SEP]`` tokens the embedder adds; spans are
    ``(start, end)`` character offsets into the given string, in order.
    """

    def count(self, text: str) -> int:
        """Number of word pieces in ``text``, without specials and without truncation."""
        ...

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span in ``text`` of each word piece counted by :meth:`count`."""
        ...
