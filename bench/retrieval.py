"""Retrieval quality on a BEIR dataset through the product's own ingest and query paths.

Why this shape: the numbers must describe what users get, so documents go through
:class:`~knowledgebeast.ingest.IngestService` (parse, chunk, embed, ``kb_terms``) and queries
through :class:`~knowledgebeast.query.QueryService` (dense candidates, in-pool BM25, fusion,
``group_by_document``) with no shortcut. The index lives in an embedded Chroma store under
``build/bench/<fingerprint>/`` and is reused while the corpus and the ingest-time settings
(chunking, model, HNSW build) are unchanged, because ingesting SciFact takes minutes on 2 cores
while a query-time scan takes seconds.

    python -m bench.retrieval --corpus ../shared/datasets/scifact/corpus.jsonl.gz \
        --queries ../shared/datasets/scifact/queries.jsonl \
        --qrels ../shared/datasets/scifact/qrels/train.tsv --mode all --json build/bench/retrieval.json

The last line printed is ``nDCG@10=<value>`` (hybrid for ``--mode all``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from bench.common import (
    BENCH_DIR,
    BeirDoc,
    load_corpus,
    load_qrels,
    load_queries,
    machine_info,
    open_text,
    parse_overrides,
    print_table,
    write_json,
)

COLLECTION = "beir"
MODES = ("dense", "lexical", "hybrid")
DEFAULT_MODE = "hybrid"
#: Settings that change what is stored: a change of any of them needs a fresh index.
INGEST_KEYS = (
    "chunk_strategy",
    "chunk_size",
    "chunk_overlap",
    "chunk_max_size",
    "chunk_max_tokens",
    "embedding_variant",
    "embedding_batch_size",
    "hnsw_m",
    "hnsw_ef_construction",
    "hnsw_ef_search",
    "max_document_chars",
)
METRIC_KEYS = ("ndcg@10", "recall@10", "recall@100", "mrr@10", "queries")
TOP_K = 100


# metrics ---------------------------------------------------------------------------------------
def ndcg_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    """nDCG with linear gain (pytrec_eval's ``ndcg_cut``, what BEIR reports)."""
    dcg = sum(relevant.get(doc, 0) / math.log2(i + 2) for i, doc in enumerate(ranked[:k]))
    ideal = sorted(relevant.values(), reverse=True)[:k]
    idcg = sum(gain / math.log2(i + 2) for i, gain in enumerate(ideal))
    return dcg / idcg if idcg > 0 else 0.0


def recall_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    return len(set(ranked[:k]) & set(relevant)) / len(relevant) if relevant else 0.0


def mrr_at(ranked: Sequence[str], relevant: dict[str, int], k: int) -> float:
    for i, doc in enumerate(ranked[:k]):
        if doc in relevant:
            return 1.0 / (i + 1)
    return 0.0


def score_run(run: dict[str, list[str]], qrels: dict[str, dict[str, int]]) -> dict[str, float]:
    """Mean metrics over the queries of ``run`` (every one of them has qrels)."""
    n = len(run)
    if n == 0:
        return {"ndcg@10": 0.0, "recall@10": 0.0, "recall@100": 0.0, "mrr@10": 0.0, "queries": 0}
    return {
        "ndcg@10": sum(ndcg_at(r, qrels[q], 10) for q, r in run.items()) / n,
        "recall@10": sum(recall_at(r, qrels[q], 10) for q, r in run.items()) / n,
        "recall@100": sum(recall_at(r, qrels[q], 100) for q, r in run.items()) / n,
        "mrr@10": sum(mrr_at(r, qrels[q], 10) for q, r in run.items()) / n,
        "queries": n,
    }


# index -----------------------------------------------------------------------------------------
def corpus_sha256(path: Path) -> str:
    """Hash of the *uncompressed* lines, so a gzip and a plain copy of one corpus share an index."""
    digest = hashlib.sha256()
    for line in open_text(path):
        digest.update(line.encode())
        digest.update(b"\n")
    return digest.hexdigest()


def make_settings(overrides: dict[str, Any], data_dir: Path | None = None) -> Any:
    """Settings with the bench's fixed parts: embedded store, no query cache (every query must
    really run), and the caller's ``--set`` overrides."""
    from knowledgebeast.config import Settings

    values: dict[str, Any] = {"query_cache_size": 0, "app_env": "test", **overrides}
    values["chroma_host"] = None
    if data_dir is not None:
        values["data_dir"] = data_dir
    return Settings(**values)


def model_file_sha(settings: Any) -> str:
    from knowledgebeast.embedding.model_files import load_manifest

    manifest = json.loads((Path(settings.embedding_model_dir) / "manifest.json").read_text())
    load_manifest(Path(settings.embedding_model_dir)).model_path(settings.embedding_variant)  # fail early
    return str(manifest["variants"][settings.embedding_variant]["sha256"])


def fingerprint(corpus_sha: str, settings: Any) -> tuple[str, dict[str, Any]]:
    parts: dict[str, Any] = {key: getattr(settings, key) for key in INGEST_KEYS}
    parts["corpus_sha256"] = corpus_sha
    parts["model_sha256"] = model_file_sha(settings)
    parts["bench_index_version"] = 1
    blob = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16], parts


class QueryEmbeddingMemo:
    """Remembers query vectors so that ``--mode all`` and tuning scans embed each query once.

    Answers are unchanged (the same text gives the same vector); only the repeated ONNX runs go.
    Never used for ingest or for latency measurements.
    """

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self._memo: dict[str, npt.NDArray[np.float32]] = {}

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        missing = [t for t in dict.fromkeys(texts) if t not in self._memo]
        if missing:
            for text, vector in zip(missing, self._inner.embed(missing), strict=True):
                self._memo[text] = vector
        return np.stack([self._memo[t] for t in texts]) if texts else self._inner.embed(texts)


@dataclass
class Index:
    """A built (or reused) collection and the services that answer over it."""

    settings: Any
    services: Any
    path: Path
    fingerprint: str
    overrides: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)


def _ingest_corpus(services: Any, docs: Sequence[BeirDoc], log_every: int = 500, batch: int = 64) -> dict[str, Any]:
    """Every document through ``IngestService.ingest_many`` (the product's bulk path: parse, chunk,
    embed, store, exactly as ``ingest_bytes`` does per document, with one model run and one store
    write per ``batch`` documents); BEIR ``_id`` is the source, so a result's ``citation.source`` is
    the BEIR doc id. Re-running skips unchanged documents, so an interrupted build resumes."""
    from knowledgebeast.ingest import IngestItem

    ingest = services.ingest_service
    started = time.perf_counter()
    chunks = 0
    outcomes: dict[str, int] = {}
    for first in range(0, len(docs), batch):
        items = [
            IngestItem(
                (doc.text.strip() or doc.title or doc.doc_id).encode("utf-8"),
                source=doc.doc_id,
                filename=f"{doc.doc_id}.txt",
                media_type="text/plain",
                title=doc.title or None,
            )
            for doc in docs[first : first + batch]
        ]
        for result in ingest.ingest_many(items, collection=COLLECTION):
            chunks += result.chunks
            outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        done = min(first + batch, len(docs))
        if done // log_every != first // log_every or done == len(docs):
            elapsed = time.perf_counter() - started
            print(f"  ingested {done}/{len(docs)} docs, {chunks} chunks, {elapsed:.0f} s", file=sys.stderr)
    seconds = time.perf_counter() - started
    return {"docs": len(docs), "chunks": chunks, "ingest_seconds": round(seconds, 1), "outcomes": outcomes}


def build_index(corpus: Path, overrides: dict[str, Any], *, root: Path = BENCH_DIR, rebuild: bool = False) -> Index:
    """Open the cached index for (corpus, ingest settings) or build it through the ingest path."""
    from knowledgebeast.factory import build_services

    probe = make_settings(overrides)
    sha = corpus_sha256(corpus)
    fp, parts = fingerprint(sha, probe)
    path = root / f"retrieval-{fp}"
    marker = path / "index.json"
    if rebuild and path.exists():
        import shutil

        shutil.rmtree(path)
    settings = make_settings(overrides, data_dir=path)
    services = build_services(settings)
    if marker.exists():
        info = json.loads(marker.read_text())
        info["reused"] = True
        print(f"reusing index {path} ({info.get('chunks')} chunks)", file=sys.stderr)
    else:
        docs = load_corpus(corpus)
        print(f"building index {path}: {len(docs)} docs", file=sys.stderr)
        info = {**_ingest_corpus(services, docs), "fingerprint_parts": parts}
        marker.write_text(json.dumps(info, indent=2, default=str))
        info["reused"] = False
    services.__dict__["embedder"] = QueryEmbeddingMemo(services.embedder)
    return Index(settings, services, path, fp, dict(overrides), info)


# queries ---------------------------------------------------------------------------------------
def with_query_settings(index: Index, overrides: dict[str, Any]) -> Any:
    """A QueryService over ``index`` with query-time overrides (depth, fusion): the store and
    the embedder are shared, so a scan costs queries only."""
    from knowledgebeast.factory import retrieval_config
    from knowledgebeast.query import QueryService

    settings = make_settings({**index.overrides, **overrides}, data_dir=index.path)
    services = index.services
    return QueryService(services.store, services.embedder, None, services.reranker, config=retrieval_config(settings))


def run_queries(
    query_service: Any,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    mode: str,
    *,
    rerank: bool = False,
    top_k: int = TOP_K,
) -> tuple[dict[str, list[str]], float]:
    """BEIR doc ids ranked for every query that has qrels, and the seconds it took."""
    from knowledgebeast.schemas import QueryRequest

    run: dict[str, list[str]] = {}
    started = time.perf_counter()
    for qid, text in queries.items():
        if qid not in qrels:
            continue
        request = QueryRequest(
            query=text[:2000], top_k=top_k, collection=COLLECTION, mode=mode, rerank=rerank, group_by_document=True
        )
        response = query_service.query(request)
        ranked: list[str] = []
        for result in response.results:
            doc = result.citation.source
            if doc not in ranked:
                ranked.append(doc)
        run[qid] = ranked
    return run, time.perf_counter() - started


def select_queries(queries: dict[str, str], qrels: dict[str, dict[str, int]], limit: int | None) -> dict[str, str]:
    """Queries with qrels, in file order, the first ``limit`` of them (a fixed, repeatable subset)."""
    kept = {q: t for q, t in queries.items() if q in qrels}
    if limit is not None:
        kept = dict(list(kept.items())[:limit])
    return kept


def evaluate(
    index: Index,
    queries: dict[str, str],
    qrels: dict[str, dict[str, int]],
    modes: Sequence[str],
    *,
    query_overrides: dict[str, Any] | None = None,
    rerank: bool = False,
) -> dict[str, dict[str, float]]:
    service = with_query_settings(index, query_overrides or {})
    results: dict[str, dict[str, float]] = {}
    for mode in modes:
        run, seconds = run_queries(service, queries, qrels, mode, rerank=rerank)
        metrics = score_run(run, qrels)
        metrics["seconds"] = round(seconds, 1)
        results[mode] = metrics
    return results


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="BEIR corpus.jsonl or corpus.jsonl.gz")
    parser.add_argument("--queries", type=Path, required=True, help="BEIR queries.jsonl")
    parser.add_argument("--qrels", type=Path, required=True, help="BEIR qrels TSV (header line, CRLF ok)")
    parser.add_argument("--mode", choices=[*MODES, "all"], default=DEFAULT_MODE)
    parser.add_argument("--rerank", action="store_true", help="cross-encoder rerank (needs RERANK_MODEL_DIR)")
    parser.add_argument("--json", type=Path, default=None, help="write results here")
    parser.add_argument("--limit-queries", type=int, default=None, help="first N queries with qrels")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--index-root", type=Path, default=BENCH_DIR, help="where cached indexes live")
    parser.add_argument("--rebuild", action="store_true", help="ignore a cached index")
    args = parser.parse_args(argv)

    overrides = parse_overrides(args.overrides)
    index = build_index(args.corpus, overrides, root=args.index_root, rebuild=args.rebuild)
    if args.rerank and index.services.reranker is None:
        parser.error("--rerank needs a cross-encoder: --set rerank_model_dir=DIR (none ships offline)")
    qrels = load_qrels(args.qrels)
    queries = select_queries(load_queries(args.queries), qrels, args.limit_queries)
    modes = list(MODES) if args.mode == "all" else [args.mode]
    results = evaluate(index, queries, qrels, modes, rerank=args.rerank)

    rows = [{"mode": mode, **{k: results[mode][k] for k in (*METRIC_KEYS, "seconds")}} for mode in modes]
    print_table(rows, ["mode", *METRIC_KEYS, "seconds"])
    payload = {
        "results": results,
        "settings": {k: str(getattr(index.settings, k)) for k in (*INGEST_KEYS, *QUERY_KEYS)},
        "overrides": overrides,
        "rerank": args.rerank,
        "index": {"path": str(index.path), "fingerprint": index.fingerprint, **index.info},
        "store": "embedded (chromadb PersistentClient)",
        "machine": machine_info(),
    }
    write_json(args.json, payload)
    headline = DEFAULT_MODE if args.mode == "all" else args.mode
    print(f"nDCG@10={results[headline]['ndcg@10']:.4f}")
    return 0


QUERY_KEYS = (
    "candidate_depth",
    "fusion_method",
    "fusion_rrf_k",
    "fusion_dense_weight",
    "fusion_lexical_weight",
    "embedding_model_dir",
)

if __name__ == "__main__":
    raise SystemExit(main())
