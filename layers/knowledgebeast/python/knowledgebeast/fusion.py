"""Combining the dense and lexical rankings of one candidate pool.

Two methods, chosen by benchmark (docs/benchmarks.md): weighted reciprocal rank fusion, robust to
the very different score scales; and min-max normalised score blending, which keeps how *much*
better a candidate is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

FusionMethod = Literal["rrf", "blend"]


def ranks(scores: Sequence[float]) -> list[int]:
    """1-based rank of each position when sorted by score, highest first (ties keep input order)."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    result = [0] * len(scores)
    for rank, index in enumerate(order, start=1):
        result[index] = rank
    return result


def reciprocal_rank_fusion(
    dense: Sequence[float],
    lexical: Sequence[float],
    *,
    k: int = 60,
    dense_weight: float = 1.0,
    lexical_weight: float = 1.0,
) -> list[float]:
    dense_ranks, lexical_ranks = ranks(dense), ranks(lexical)
    return [
        dense_weight / (k + d) + (lexical_weight / (k + lex) if lexical[i] > 0 else 0.0)
        for i, (d, lex) in enumerate(zip(dense_ranks, lexical_ranks, strict=True))
    ]


def _min_max(scores: Sequence[float]) -> list[float]:
    if not scores:
        return []
    low, high = min(scores), max(scores)
    if high - low <= 1e-12:
        return [0.0 for _ in scores]
    return [(s - low) / (high - low) for s in scores]


def blend(
    dense: Sequence[float], lexical: Sequence[float], *, dense_weight: float = 1.0, lexical_weight: float = 1.0
) -> list[float]:
    return [dense_weight * d + lexical_weight * lex for d, lex in zip(_min_max(dense), _min_max(lexical), strict=True)]


def fuse(
    method: FusionMethod,
    dense: Sequence[float],
    lexical: Sequence[float],
    *,
    k: int = 60,
    dense_weight: float = 1.0,
    lexical_weight: float = 1.0,
) -> list[float]:
    if method == "rrf":
        return reciprocal_rank_fusion(dense, lexical, k=k, dense_weight=dense_weight, lexical_weight=lexical_weight)
    return blend(dense, lexical, dense_weight=dense_weight, lexical_weight=lexical_weight)
