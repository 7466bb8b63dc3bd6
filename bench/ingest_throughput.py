"""Ingest throughput: docs/s and chunks/s through the product's ingest path vs the baseline.

Why separate processes: peak RSS (``resource.getrusage``) is per process, and the baseline's torch
must not share an interpreter with onnxruntime. The product worker runs every document through
``IngestService.ingest_many`` in batches of ``--batch`` documents (parse, chunk, embed, upsert,
registry; ``--batch 1`` is the one-by-one path) into a fresh embedded store;
the baseline (build/bench/venv-baseline) embeds each document as one vector with
sentence-transformers and upserts it into chromadb in batches of 32. Same documents, same run.

    python -m bench.ingest_throughput --docs 300 --json build/bench/results/ingest.json

The last line printed is ``docs_per_s=<product docs/s>``.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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
    SCIFACT_DIR,
    baseline_available,
    load_corpus,
    machine_info,
    parse_overrides,
    print_table,
    write_json,
)


class _TimedEmbedder:
    """The product's embedder, timed: per-vector embedding throughput is reported on its own."""

    def __init__(self, inner: Any) -> None:
        self._inner, self.seconds = inner, 0.0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def embed(self, texts: Any) -> Any:
        started = time.perf_counter()
        try:
            return self._inner.embed(texts)
        finally:
            self.seconds += time.perf_counter() - started


def product_worker(corpus: Path, docs: int, data_dir: Path, overrides: dict[str, Any], batch: int) -> dict[str, Any]:
    started_process = time.perf_counter()
    from bench.retrieval import make_settings
    from knowledgebeast.factory import build_services
    from knowledgebeast.ingest import IngestItem

    services = build_services(make_settings(overrides, data_dir=data_dir))
    timed = _TimedEmbedder(services.embedder)  # loads the model: startup, not throughput
    services.__dict__["embedder"] = timed
    ingest = services.ingest_service
    items = load_corpus(corpus)[:docs]
    started = time.perf_counter()
    chunks = 0
    for first in range(0, len(items), batch):
        part = [
            IngestItem((d.text.strip() or d.title).encode(), d.doc_id, f"{d.doc_id}.txt", title=d.title or None)
            for d in items[first : first + batch]
        ]
        chunks += sum(r.chunks for r in ingest.ingest_many(part, collection="throughput"))
    seconds = time.perf_counter() - started
    return {
        "docs": len(items),
        "chunks": chunks,
        "vectors": chunks,
        "seconds": round(seconds, 2),
        "docs_per_s": round(len(items) / seconds, 2),
        "chunks_per_s": round(chunks / seconds, 2),
        "vectors_per_s": round(chunks / seconds, 2),
        "embed_seconds": round(timed.seconds, 2),
        "embed_vectors_per_s": round(chunks / timed.seconds, 2),
        "startup_seconds": round(started - started_process, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def run_json(command: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=3600, check=False, cwd=REPO_ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {done.stderr[-2000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SCIFACT_DIR / "corpus.jsonl.gz")
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--batch", type=int, default=32, help="documents per ingest_many call (1 = one by one)")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.overrides)

    if args.worker:
        assert args.data_dir is not None
        print(json.dumps(product_worker(args.corpus, args.docs, args.data_dir, overrides, args.batch)))
        return 0

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="ingest-", dir=BENCH_DIR))
    try:
        sets = [arg for item in args.overrides for arg in ("--set", item)]
        product = run_json(
            [
                sys.executable,
                "-m",
                "bench.ingest_throughput",
                "--worker",
                "--corpus",
                str(args.corpus),
                "--docs",
                str(args.docs),
                "--data-dir",
                str(workdir / "product"),
                "--batch",
                str(args.batch),
                *sets,
            ]
        )
        baseline = None
        if not args.no_baseline and baseline_available():
            baseline = run_json(
                [
                    str(BASELINE_PYTHON),
                    str(REPO_ROOT / "bench" / "baseline_worker.py"),
                    "ingest",
                    "--corpus",
                    str(args.corpus),
                    "--limit",
                    str(args.docs),
                    "--path",
                    str(workdir / "baseline"),
                ],
                env={**os.environ, "HF_HUB_OFFLINE": "1"},
            )
        elif not args.no_baseline:
            print("baseline venv missing (build/bench/venv-baseline): baseline skipped", file=sys.stderr)
        rows = [{"pipeline": "knowledgebeast (ONNX, chunked)", **product}]
        ratios: dict[str, float] = {}
        if baseline is not None:
            rows.append({"pipeline": "baseline (torch ST, 1 vector/doc)", **baseline})
            ratios = {
                "docs_per_s_ratio": round(product["docs_per_s"] / baseline["docs_per_s"], 3),
                "vectors_per_s_ratio": round(product["vectors_per_s"] / baseline["vectors_per_s"], 3),
                "embed_vectors_per_s_ratio": round(product["embed_vectors_per_s"] / baseline["embed_vectors_per_s"], 3),
                "peak_rss_ratio": round(product["peak_rss_mb"] / baseline["peak_rss_mb"], 3),
            }
        columns = ["pipeline", "docs", "vectors", "seconds", "docs_per_s", "vectors_per_s", "embed_vectors_per_s"]
        columns.append("startup_seconds")
        print_table(rows, [*columns, "peak_rss_mb"])
        if ratios:
            print(" ".join(f"{k}={v}" for k, v in ratios.items()))
        write_json(
            args.json,
            {
                "product": product,
                "baseline": baseline,
                "ratios": ratios,
                "overrides": overrides,
                "store": "embedded (PersistentClient), fresh per run",
                "machine": machine_info(),
            },
        )
        print(f"docs_per_s={product['docs_per_s']:.2f}")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
