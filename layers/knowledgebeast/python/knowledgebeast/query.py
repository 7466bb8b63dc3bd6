"""The query path: cache -> embed -> dense candidates -> lexical -> fuse -> group -> rerank.

Everything that changes an answer is in the cache key, including the collection's write version
(from Redis when configured, never older than an acknowledged write; else a Chroma round trip that
also tells whether the collection exists).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from knowledgebeast.cache.base import CacheProtocol, query_cache_key
from knowledgebeast.embedding.base import EmbedderProtocol
from knowledgebeast.errors import BadRequestError
from knowledgebeast.fusion import FusionMethod, fuse
from knowledgebeast.identity import require_user_collection
from knowledgebeast.lexical import analyze, bm25_pool_scores, terms_present
from knowledgebeast.observability import metrics
from knowledgebeast.observability.tracing import span
from knowledgebeast.record_format import HIDDEN_KEYS, TERMS_KEY, split_heading_path
from knowledgebeast.rerank.base import RerankerProtocol
from knowledgebeast.schemas import Citation, QueryRequest, QueryResponse, QueryResult
from knowledgebeast.store.base import StoredChunk, VectorStoreProtocol
from knowledgebeast.store.filters import validate_filter

HIDDEN_METADATA = HIDDEN_KEYS
_WORD = re.compile(r"[^\W_][\w-]*[^\W_]|[^\W_]", re.UNICODE)
#: Only identifier-like words (a digit, an inner capital or hyphen, or ALL CAPS) are rescued: the
#: full-text lookup costs 30-60 ms, and plain vocabulary is what the dense pool already covers.
_IDENTIFIER = re.compile(r"\d|.[A-Z]|-|^[A-Z]{2,}$")
MIN_RESCUE_WORD = 3
MAX_RESCUE_WORDS = 8


@dataclass(frozen=True)
class RetrievalConfig:
    candidate_depth: int = 300
    fusion: FusionMethod = "blend"
    rrf_k: int = 60
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rerank_top_n: int = 50
    max_filter_depth: int = 5
    cache_ttl: int = 3600
    rescue_limit: int = 50


@dataclass
class _Candidate:
    chunk: StoredChunk
    dense: float
    lexical: float = 0.0
    score: float = 0.0
    rerank: float | None = None


@contextmanager
def _stage(name: str) -> Iterator[None]:
    started = time.perf_counter()
    with span(f"query.{name}"):
        yield
    metrics.observe_stage(name, time.perf_counter() - started)


class QueryService:
    def __init__(
        self,
        store: VectorStoreProtocol,
        embedder: EmbedderProtocol,
        cache: CacheProtocol | None = None,
        reranker: RerankerProtocol | None = None,
        *,
        config: RetrievalConfig | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.cache = cache
        self.reranker = reranker
        self.config = config or RetrievalConfig()

    def query(self, request: QueryRequest) -> QueryResponse:
        with span("query"):
            return self._query(request)

    def _query(self, request: QueryRequest) -> QueryResponse:
        started = time.perf_counter()
        if request.rerank and self.reranker is None:
            raise BadRequestError(
                "reranking was requested but no reranker model is configured (set RERANK_MODEL_DIR)",
                details={"rerank": "unavailable"},
            )
        where = validate_filter(request.filters, max_depth=self.config.max_filter_depth)
        self._check_min_score(request)
        require_user_collection(request.collection)
        version = self.store.collection_version(request.collection)
        key = query_cache_key(
            collection=request.collection,
            version=version,
            query=request.query,
            params=request.model_dump(exclude={"query", "collection"}),
        )
        cached = self._cache_get(key)
        if cached is not None:
            response = QueryResponse.model_validate_json(cached)
            response.cached = True
            response.took_ms = round((time.perf_counter() - started) * 1000, 2)
            return response
        results = self._retrieve(request, where)
        response = QueryResponse(
            results=results,
            collection=request.collection,
            mode=request.mode,
            took_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        if self.cache is not None:
            with _stage("cache_write"):
                self.cache.set(key, response.model_dump_json().encode(), self.config.cache_ttl)
        return response

    def score_range(self, mode: str, rerank: bool) -> tuple[float | None, float | None]:
        """Lowest and highest ``score`` the mode can give (None: unbounded), as ``min_score`` accepts it."""
        if rerank:
            return None, None  # a cross-encoder's raw logit
        if mode == "dense":
            return -1.0, 1.0  # cosine similarity
        if mode == "lexical":
            return 0.0, None  # BM25
        weights = self.config.dense_weight + self.config.lexical_weight
        if self.config.fusion == "rrf":
            return 0.0, weights / (self.config.rrf_k + 1)
        return 0.0, weights  # min-max normalised blend

    def _check_min_score(self, request: QueryRequest) -> None:
        if request.min_score is None:
            return
        low, high = self.score_range(request.mode, request.rerank)
        if (low is not None and request.min_score < low) or (high is not None and request.min_score > high):
            scale = f"[{low if low is not None else '-inf'}, {high if high is not None else 'inf'}]"
            raise BadRequestError(
                f"min_score {request.min_score} is outside the {request.mode} score range {scale}",
                details={"field": "min_score", "mode": request.mode, "min": low, "max": high},
            )

    def _cache_get(self, key: str) -> bytes | None:
        if self.cache is None:
            return None
        with _stage("cache"):
            value = self.cache.get(key)
        metrics.observe_cache(self.cache.backend, value is not None)
        return value

    def _retrieve(self, request: QueryRequest, where: dict[str, Any] | None) -> list[QueryResult]:
        with _stage("embed"):
            vector = self.embedder.embed([request.query])[0]
        depth = self.config.candidate_depth
        if request.mode == "dense" and not request.rerank:
            depth = min(depth, request.top_k * (4 if request.group_by_document else 1))
        with _stage("search"):
            chunks = self.store.search(request.collection, np.asarray(vector), limit=depth, where=where)
        candidates = [_Candidate(chunk, dense=1.0 - float(chunk.distance or 0.0)) for chunk in chunks]
        if request.mode != "dense":
            with _stage("lexical"):
                terms = analyze(request.query)
                pool_terms = [_terms_of(c) for c in candidates]
                rescued = self._lexical_rescue(request, where, terms, pool_terms, candidates)
                candidates.extend(rescued)
                pool_terms.extend(_terms_of(c) for c in rescued)
                lexical = bm25_pool_scores(terms, pool_terms)
                for candidate, value in zip(candidates, lexical, strict=True):
                    candidate.lexical = value
        self._score(request, candidates)
        candidates.sort(key=lambda c: -c.score)
        if request.group_by_document:
            candidates = _best_per_document(candidates)
        if request.rerank and self.reranker is not None and candidates:
            candidates = self._rerank(request.query, candidates)
        if request.min_score is not None:
            candidates = [c for c in candidates if c.score >= request.min_score]
        return [_to_result(c, request.mode) for c in candidates[: request.top_k]]

    def _lexical_rescue(
        self,
        request: QueryRequest,
        where: dict[str, Any] | None,
        terms: list[str],
        pool_terms: list[str],
        candidates: list[_Candidate],
    ) -> list[_Candidate]:
        """Chunks holding identifier-like query words that no dense candidate contains (codes, names).

        The dense pool misses exact rare tokens ("ZX-4471"); one full-text lookup for just the
        missing words adds them. It costs a round trip only when some query word is absent from
        the pool.
        """
        wanted = set(terms)
        missing_stems = wanted - terms_present(terms, pool_terms)
        if not missing_stems:
            return []
        words = sorted(
            {
                w
                for w in _WORD.findall(request.query)
                if len(w) >= MIN_RESCUE_WORD and _IDENTIFIER.search(w) and analyze(w) and analyze(w)[0] in missing_stems
            }
        )[:MAX_RESCUE_WORDS]
        if not words:
            return []
        known = {c.chunk.id for c in candidates}
        found = self.store.get_containing(request.collection, words, where=where, limit=self.config.rescue_limit)
        # Outside the dense pool, so at most as similar as its least similar member: use that bound
        # rather than fetching vectors (a rescued chunk wins on its lexical evidence, not on dense).
        floor = min((c.dense for c in candidates), default=0.0)
        return [_Candidate(chunk, dense=floor) for chunk in found if chunk.id not in known]

    def _score(self, request: QueryRequest, candidates: list[_Candidate]) -> None:
        if request.mode == "dense":
            for c in candidates:
                c.score = c.dense
        elif request.mode == "lexical":
            for c in candidates:
                c.score = c.lexical
        else:
            fused = fuse(
                self.config.fusion,
                [c.dense for c in candidates],
                [c.lexical for c in candidates],
                k=self.config.rrf_k,
                dense_weight=self.config.dense_weight,
                lexical_weight=self.config.lexical_weight,
            )
            for c, value in zip(candidates, fused, strict=True):
                c.score = value

    def _rerank(self, query: str, candidates: list[_Candidate]) -> list[_Candidate]:
        assert self.reranker is not None
        head = candidates[: self.config.rerank_top_n]
        with _stage("rerank"):
            scores = self.reranker.score(query, [c.chunk.text for c in head])
        for candidate, value in zip(head, scores, strict=True):
            candidate.rerank = value
            candidate.score = value
        head.sort(key=lambda c: -c.score)
        return head


def _terms_of(candidate: _Candidate) -> str:
    """The chunk's analysed terms as stored at ingest: space-joined (see lexical.analyze)."""
    return str(candidate.chunk.metadata.get(TERMS_KEY, ""))


def _best_per_document(candidates: list[_Candidate]) -> list[_Candidate]:
    seen: set[str] = set()
    best: list[_Candidate] = []
    for candidate in candidates:
        doc = str(candidate.chunk.metadata.get("document_id", candidate.chunk.id))
        if doc not in seen:
            seen.add(doc)
            best.append(candidate)
    return best


def _to_result(candidate: _Candidate, mode: str) -> QueryResult:
    meta = candidate.chunk.metadata
    page = meta.get("page")
    return QueryResult(
        id=candidate.chunk.id,
        text=candidate.chunk.text,
        score=round(candidate.score, 6),
        dense_score=round(candidate.dense, 6),
        lexical_score=round(candidate.lexical, 6) if mode != "dense" else None,
        rerank_score=round(candidate.rerank, 6) if candidate.rerank is not None else None,
        citation=Citation(
            document_id=str(meta.get("document_id", "")),
            source=str(meta.get("source", "")),
            title=str(meta.get("title", "")),
            page=int(page) if isinstance(page, int | float) and not isinstance(page, bool) else None,
            heading_path=split_heading_path(meta.get("heading_path")),
            start=int(meta.get("start", 0)),
            end=int(meta.get("end", 0)),
            chunk_index=int(meta.get("chunk_index", 0)),
        ),
        metadata={k: v for k, v in meta.items() if k not in HIDDEN_METADATA},
    )
