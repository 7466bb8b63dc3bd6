"""Contract of a reranker: score (query, passage) pairs; higher is more relevant."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class RerankerProtocol(Protocol):
    model_id: str

    def score(self, query: str, passages: Sequence[str]) -> list[float]: ...
