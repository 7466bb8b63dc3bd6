"""BM25 lexical scoring over a dense candidate pool, with no per-process index.

Why this design (measured in docs/benchmarks.md): in AWS many Lambda instances answer at once
and Chroma's local server has no sparse index, so a BM25 index held in a process would drift from
the store between ingests. Instead every chunk carries its analysed terms (``kb_terms``, written at
ingest by :func:`analyze`) and a query scores the ``candidate_depth`` dense candidates with BM25
whose statistics (document frequency, average length) come from that pool. The result is a pure
function of the store's contents: consistent across instances, ingests and deletes by construction.
In-pool IDF rewards the terms that discriminate *among the candidates*, which is what re-ordering
the pool needs.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

_TOKEN = re.compile(r"[^\W_]+", re.UNICODE)

STOPWORDS = frozenset(
    """
    a about above after again against all am an and any are as at be because been before being below between
    both but by can could did do does doing down during each few for from further had has have having he her
    here hers herself him himself his how i if in into is it its itself just me more most my myself no nor not
    now of off on once only or other our ours ourselves out over own same she should so some such than that the
    their theirs them themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    """.split()
)


@lru_cache(maxsize=200_000)
def _stem(word: str) -> str:
    return str(_stemmer().stemWord(word))


@lru_cache(maxsize=1)
def _stemmer():  # type: ignore[no-untyped-def]
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def analyze(text: str) -> list[str]:
    """Lower-case word tokens, stop words removed, Snowball-stemmed. Used for chunks and queries."""
    return [_stem(token) for token in _TOKEN.findall(text.lower()) if token not in STOPWORDS]


def bm25_scores(
    query_terms: Sequence[str], documents: Sequence[Sequence[str]], *, k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """BM25 of each document for the query, statistics taken from ``documents`` themselves."""
    if not documents or not query_terms:
        return [0.0] * len(documents)
    unique_terms = set(query_terms)
    counts = [Counter(term for term in doc if term in unique_terms) for doc in documents]
    lengths = [len(doc) for doc in documents]
    average_length = (sum(lengths) / len(lengths)) or 1.0
    total = len(documents)
    document_frequency = Counter(term for count in counts for term in count)
    idf = {term: math.log(1.0 + (total - df + 0.5) / (df + 0.5)) for term, df in document_frequency.items()}
    query_weights = Counter(query_terms)
    scores: list[float] = []
    for count, length in zip(counts, lengths, strict=True):
        norm = k1 * (1.0 - b + b * length / average_length)
        score = 0.0
        for term, frequency in count.items():
            score += query_weights[term] * idf[term] * frequency * (k1 + 1.0) / (frequency + norm)
        scores.append(score)
    return scores


def _padded(term_string: str) -> str:
    """`` a  b  c `` for ``a b c``: every term between its own two spaces, so counting `` a `` is exact
    (with single spaces, two equal neighbours would share a space and ``str.count`` would see one)."""
    return " " + term_string.replace(" ", "  ") + " "


def terms_present(query_terms: Sequence[str], term_strings: Sequence[str]) -> set[str]:
    """Which of ``query_terms`` occur in any of the space-joined term strings (one scan, in C)."""
    haystack = _padded(" ".join(term_strings))
    return {term for term in set(query_terms) if f" {term} " in haystack}


def bm25_pool_scores(
    query_terms: Sequence[str], term_strings: Sequence[str], *, k1: float = 1.2, b: float = 0.75
) -> list[float]:
    """:func:`bm25_scores` over documents given as their stored ``kb_terms`` strings.

    Same statistics and formula, computed from per-term counts (``str.count`` on the stored string,
    no split into lists) and numpy, because on the query path the pool is 300 candidates of ~80 terms
    and splitting and counting them in Python cost more than the rest of the lexical stage.
    """
    if not term_strings or not query_terms:
        return [0.0] * len(term_strings)
    weights = Counter(query_terms)
    unique = list(weights)
    padded = [_padded(text) for text in term_strings]
    needles = [f" {term} " for term in unique]
    tf = np.array([[doc.count(needle) for needle in needles] for doc in padded], dtype=np.float64)
    lengths = np.array([text.count(" ") + 1 if text else 0 for text in term_strings], dtype=np.float64)
    average_length = float(lengths.mean()) or 1.0
    df = (tf > 0).sum(axis=0)
    idf = np.log(1.0 + (len(term_strings) - df + 0.5) / (df + 0.5))
    norm = k1 * (1.0 - b + b * lengths / average_length)
    per_term = np.array([weights[t] for t in unique]) * idf * tf * (k1 + 1.0) / (tf + norm[:, None])
    return [float(v) for v in per_term.sum(axis=1)]
