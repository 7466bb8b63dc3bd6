"""Query latency of the Lambda query handler over a real ``chroma run`` server, vs a baseline.

Why this shape: what a user waits for in AWS is the query Lambda (Mangum + FastAPI + the query
path) talking to Chroma over the network, so the handler is invoked in-process with real API
Gateway HTTP API v2 events, and the store is a real ``chroma run`` server on loopback (its data is
a copy of the cached retrieval index, see bench/retrieval.py). The in-memory query cache stands in
for Redis (a Redis GET adds ~0.15 ms on loopback, docs/benchmarks.md). The baseline,
sentence-transformers on torch + chromadb with one vector per document, runs in its own venv as
a subprocess against the same server in the same run, so the ratio is measured under the same
machine load.

    python -m bench.latency --corpus ../shared/datasets/scifact/corpus.jsonl.gz \
        --queries ../shared/datasets/scifact/queries.jsonl --n 200 --json build/bench/results/latency.json

The last line printed is ``p95_ms=<hybrid uncached p95>``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import (
    BASELINE_PYTHON,
    BENCH_DIR,
    REPO_ROOT,
    baseline_available,
    latency_summary,
    load_queries,
    machine_info,
    parse_overrides,
    print_table,
    write_json,
)
from bench.lambda_events import FakeLambdaContext, query_event, query_handler

BASELINE_COLLECTION = "baseline-docs"
TOP_K = 10


def start_server(data_dir: Path) -> Any:
    sys.path.insert(0, str(REPO_ROOT))
    from tests.utils.servers import start_chroma

    return start_chroma(data_dir)


def copy_index(index_path: Path, target: Path) -> None:
    """The embedded store's folder is what ``chroma run --path`` serves; copying it (nothing
    writes to it during the copy) avoids re-ingesting the corpus for every latency run."""
    shutil.copytree(index_path / "chroma", target)


def seed_baseline_collection(host: str, port: int, source: str) -> int:
    """One vector per document for the baseline: each document's first chunk vector (title +
    opening text, what sentence-transformers' 256-token truncation of a whole abstract reads).
    Only the count and dimension matter for search latency; quality is bench/retrieval.py's job."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.HttpClient(host=host, port=port, settings=ChromaSettings(anonymized_telemetry=False))
    chunks = client.get_collection(source, embedding_function=None)
    target = client.get_or_create_collection(
        BASELINE_COLLECTION, embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    offset, page, added = 0, 2000, 0
    while True:
        got = chunks.get(
            where={"chunk_index": 0}, include=["embeddings", "documents", "metadatas"], limit=page, offset=offset
        )
        if not got["ids"]:
            break
        metadatas = got["metadatas"] or []
        target.upsert(
            ids=[str(m["source"]) for m in metadatas],
            embeddings=got["embeddings"],
            documents=got["documents"],
            metadatas=[{"title": str(m.get("title", ""))} for m in metadatas],
        )
        added += len(got["ids"])
        offset += page
    return added


def grow_index(chroma_dir: Path, target_chunks: int, *, seed: int = 0) -> dict[str, Any]:
    """Grow the served copy to ``target_chunks`` with synthetic near-duplicates of real chunks.

    How: every real chunk is copied (round-robin) under a new document id (``<doc>~syn<r>``), with
    its text, metadata and ``kb_terms`` unchanged and its vector perturbed by Gaussian noise
    (sigma 0.02 per dimension, ~0.93 cosine to the original) and re-normalised, so the copies sit
    in the real clusters and compete with the real chunks for every query: HNSW search, candidate
    records and BM25 pools are exercised at the larger size. Written straight into Chroma (no
    embedding: ingest cost is bench.ingest_throughput's subject).
    """
    import chromadb
    import numpy as np
    from chromadb.config import Settings as ChromaSettings

    from bench.retrieval import COLLECTION

    client = chromadb.PersistentClient(path=str(chroma_dir), settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_collection(COLLECTION, embedding_function=None)
    real = collection.count()
    rng = np.random.default_rng(seed)
    added, offset, page, copy = 0, 0, 2000, 1
    started = time.perf_counter()
    while real + added < target_chunks:
        got = collection.get(include=["embeddings", "documents", "metadatas"], limit=page, offset=offset)
        if not got["ids"]:
            offset, copy = 0, copy + 1
            continue
        offset += page
        take = min(len(got["ids"]), target_chunks - real - added)
        vectors = np.asarray(got["embeddings"][:take], dtype=np.float32)
        vectors += rng.normal(0.0, 0.02, size=vectors.shape).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        metadatas: Any = []
        for meta in (got["metadatas"] or [])[:take]:
            clone = dict(meta or {})
            clone["document_id"] = f"{clone.get('document_id', '')}~syn{copy}"
            clone["source"] = f"{clone.get('source', '')}~syn{copy}"
            metadatas.append(clone)
        collection.upsert(
            ids=[f"{i}~syn{copy}" for i in got["ids"][:take]],
            embeddings=vectors,
            documents=(got["documents"] or [])[:take],
            metadatas=metadatas,
        )
        added += take
        if added % 10_000 < take:
            print(f"  grown by {added} chunks ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    total = collection.count()
    client.clear_system_cache()
    return {
        "real_chunks": real,
        "synthetic_chunks": added,
        "chunks": total,
        "grow_seconds": round(time.perf_counter() - started, 1),
    }


def grown_copy(index_path: Path, target_chunks: int, root: Path) -> tuple[Path, dict[str, Any]]:
    """A cached grown copy of the index (growing 80k chunks takes minutes): built once, then reused."""
    cached = root / f"{index_path.name}-grown-{target_chunks}"
    marker = cached / "grown.json"
    if not marker.exists():
        shutil.rmtree(cached, ignore_errors=True)
        copy_index(index_path, cached / "chroma")
        info = grow_index(cached / "chroma", target_chunks)
        marker.write_text(json.dumps(info))
    return cached / "chroma", json.loads(marker.read_text())


def warm_shared_records(host: str, port: int, redis_port: int) -> int:
    """Load every chunk record into Redis, as ingest's write-through leaves them in production."""
    from bench.retrieval import COLLECTION
    from knowledgebeast.cache.records import SharedRecords
    from knowledgebeast.cache.redis_cache import RedisCache
    from knowledgebeast.store.chroma import ChromaStore

    store = ChromaStore.http(host, port)
    shared = SharedRecords(RedisCache.connect("127.0.0.1", redis_port, timeout=5.0))
    offset: int | None = 0
    loaded = 0
    while offset is not None:
        page = store.export_page(COLLECTION, offset=offset, limit=2000)
        shared.put_many(COLLECTION, {c.id: (c.text, c.metadata) for c in page.chunks})
        loaded += len(page.chunks)
        offset = page.next_offset
    return loaded


def invoke(handler: Any, event: dict[str, Any]) -> dict[str, Any]:
    response = handler(event, FakeLambdaContext())
    if response.get("statusCode") != 200:
        raise RuntimeError(f"handler answered {response.get('statusCode')}: {str(response.get('body'))[:300]}")
    return json.loads(response["body"])


def measure(handler: Any, texts: Sequence[str], mode: str, *, expect_cached: bool) -> dict[str, float]:
    samples = []
    for text in texts:
        event = query_event(text, mode=mode, top_k=TOP_K)
        started = time.perf_counter()
        body = invoke(handler, event)
        samples.append(time.perf_counter() - started)
        if bool(body.get("cached")) != expect_cached:
            raise RuntimeError(f"expected cached={expect_cached} for {text[:40]!r} ({mode})")
    return latency_summary(samples)


def run_baseline(port: int, texts: Sequence[str], warmup: Sequence[str], workdir: Path) -> dict[str, Any] | None:
    if not baseline_available():
        print("baseline venv missing (build/bench/venv-baseline): baseline skipped", file=sys.stderr)
        return None
    queries_file = workdir / "baseline-queries.jsonl"
    queries_file.write_text("".join(json.dumps({"text": t}) + "\n" for t in [*warmup, *texts]))
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    command = [
        str(BASELINE_PYTHON),
        str(REPO_ROOT / "bench" / "baseline_worker.py"),
        "latency",
        "--port",
        str(port),
        "--collection",
        BASELINE_COLLECTION,
        "--queries",
        str(queries_file),
        "--n",
        str(len(texts)),
        "--warmup",
        str(len(warmup)),
        "--top-k",
        str(TOP_K),
    ]
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=1800, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"baseline failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True)
    parser.add_argument("--queries", type=Path, required=True)
    parser.add_argument("--n", type=int, default=200, help="timed queries per pass")
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--index-root", type=Path, default=BENCH_DIR)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--redis", action="store_true", help="Redis (valkey) as cache, record and version tier")
    parser.add_argument("--chunks", type=int, default=0, help="grow the served index to this many chunks")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from bench.retrieval import COLLECTION, build_index

    overrides = parse_overrides(args.overrides)
    index = build_index(args.corpus, overrides, root=args.index_root)
    index.services.store._client.clear_system_cache()  # release the embedded copy before serving it
    all_texts = list(dict.fromkeys(load_queries(args.queries).values()))  # SciFact repeats some claims
    warmup, texts = all_texts[: args.warmup], all_texts[args.warmup : args.warmup + args.n]

    workdir = Path(tempfile.mkdtemp(prefix="latency-", dir=args.index_root))
    server = redis = None
    grown: dict[str, Any] = {}
    try:
        source = index.path / "chroma"
        if args.chunks:
            source, grown = grown_copy(index.path, args.chunks, args.index_root)
            print(f"grown index: {grown}", file=sys.stderr)
        shutil.copytree(source, workdir / "chroma")
        server = start_server(workdir / "chroma")
        # one client sending hundreds of queries a minute is the bench, not abuse: no rate limit
        env = {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server.port), "APP_ENV": "test"}
        env["RATE_LIMIT_PER_MINUTE"] = "0"
        if args.redis:
            from tests.utils.servers import start_redis

            redis = start_redis()
            env.update(REDIS_HOST="127.0.0.1", REDIS_PORT=str(redis.port))
            warmed = warm_shared_records("127.0.0.1", server.port, redis.port)
            print(f"redis on port {redis.port}: {warmed} chunk records loaded", file=sys.stderr)
        env.update({k.upper(): str(v) for k, v in overrides.items()})
        os.environ.update(env)  # the real handler reads the environment, like in Lambda
        from bench.retrieval import make_settings
        from knowledgebeast.config import get_settings
        from knowledgebeast.factory import build_services

        get_settings.cache_clear()
        settings = make_settings({**overrides, "query_cache_size": 1000, "rate_limit_per_minute": 0})
        settings = settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": server.port})
        if redis is not None:
            settings = settings.model_copy(update={"redis_host": "127.0.0.1", "redis_port": redis.port})
        handler, handler_source = query_handler(build_services(settings))
        print(f"handler: {handler_source}; chroma run on port {server.port}", file=sys.stderr)
        for text in warmup:
            invoke(handler, query_event(text, mode="hybrid", top_k=TOP_K))
        rows: list[dict[str, Any]] = []
        results: dict[str, Any] = {}
        for mode in ("hybrid", "dense"):
            results[f"{mode}_uncached"] = measure(handler, texts, mode, expect_cached=False)
            results[f"{mode}_cached"] = measure(handler, texts, mode, expect_cached=True)
        baseline = None
        if not args.no_baseline and baseline_available():
            seeded = seed_baseline_collection("127.0.0.1", server.port, COLLECTION)
            print(f"baseline collection: {seeded} document vectors", file=sys.stderr)
            baseline = run_baseline(server.port, texts, warmup, workdir)
        elif not args.no_baseline:
            print("baseline venv missing (build/bench/venv-baseline): baseline skipped", file=sys.stderr)
        for name, summary in results.items():
            row: dict[str, Any] = {"case": name, **summary}
            if baseline is not None:
                row["p95_vs_baseline"] = round(summary["p95_ms"] / baseline["latency"]["p95_ms"], 3)
            rows.append(row)
        if baseline is not None:
            rows.append({"case": "baseline (torch ST + chromadb, 1 vector/doc)", **baseline["latency"]})
        print_table(rows, ["case", "n", "p50_ms", "p95_ms", "p99_ms", "mean_ms", "p95_vs_baseline"])
        write_json(
            args.json,
            {
                "results": results,
                "baseline": baseline,
                "handler": handler_source,
                "top_k": TOP_K,
                "store": "chroma run (HTTP, loopback)",
                "cache": "redis (valkey): answers, chunk records, versions" if redis else "in-memory (MemoryCache)",
                "grown": grown,
                "index": str(index.path),
                "overrides": overrides,
                "machine": machine_info(),
            },
        )
        print(f"p95_ms={results['hybrid_uncached']['p95_ms']:.3f}")
    finally:
        if server is not None:
            server.stop()
        if redis is not None:
            redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
