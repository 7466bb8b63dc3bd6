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
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    from bench.retrieval import COLLECTION, build_index

    overrides = parse_overrides(args.overrides)
    index = build_index(args.corpus, overrides, root=args.index_root)
    index.services.store._client.clear_system_cache()  # release the embedded copy before serving it
    all_texts = list(dict.fromkeys(load_queries(args.queries).values()))  # SciFact repeats some claims
    warmup, texts = all_texts[: args.warmup], all_texts[args.warmup : args.warmup + args.n]

    workdir = Path(tempfile.mkdtemp(prefix="latency-", dir=args.index_root))
    server = None
    try:
        copy_index(index.path, workdir / "chroma")
        server = start_server(workdir / "chroma")
        # one client sending hundreds of queries a minute is the bench, not abuse: no rate limit
        env = {"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(server.port), "APP_ENV": "test"}
        env["RATE_LIMIT_PER_MINUTE"] = "0"
        env.update({k.upper(): str(v) for k, v in overrides.items()})
        os.environ.update(env)  # the real handler reads the environment, like in Lambda
        from bench.retrieval import make_settings
        from knowledgebeast.config import get_settings
        from knowledgebeast.factory import build_services

        get_settings.cache_clear()
        settings = make_settings({**overrides, "query_cache_size": 1000, "rate_limit_per_minute": 0})
        settings = settings.model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": server.port})
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
                "cache": "in-memory (MemoryCache)",
                "index": str(index.path),
                "overrides": overrides,
                "machine": machine_info(),
            },
        )
        print(f"p95_ms={results['hybrid_uncached']['p95_ms']:.3f}")
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
