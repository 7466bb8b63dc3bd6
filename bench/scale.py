"""Store-level scale: search p95 and process RSS at 10k / 100k / (300k) synthetic 384-d vectors.

Why store level: the query path's cost that grows with the collection is Chroma's HNSW search
and the fetch of ``candidate_depth`` rows (text + metadata); the ONNX query embedding is constant.
Each size runs in a fresh process through the product's adapter (``ChromaStore``, embedded
``PersistentClient``, cosine, the configured HNSW parameters) so its peak RSS is its own. Vectors
are clustered unit vectors (64 Gaussian clusters), closer to real embeddings than uniform noise,
each row carries a 400-character text and product-like metadata so fetches cost what they would.

    python -m bench.scale --sizes 10000,100000 --json build/bench/results/scale.json

300k is supported (``--sizes 10000,100000,300000``) but its insert alone takes tens of minutes on
2 shared cores. The last line printed is ``p95_ms@<largest size>=<value>``.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR, REPO_ROOT, latency_summary, machine_info, print_table, write_json

DIMENSION = 384
TEXT = ("lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor " * 6)[:400]


def synthetic(n: int, seed: int, centers: Any = None) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(seed)
    if centers is None:
        centers = rng.normal(size=(64, DIMENSION)).astype("float32")
    points = centers[rng.integers(0, len(centers), size=n)] + 0.6 * rng.normal(size=(n, DIMENSION)).astype("float32")
    points /= np.linalg.norm(points, axis=1, keepdims=True)
    return points.astype("float32"), centers


def worker(size: int, data_dir: Path, queries: int, batch: int) -> dict[str, Any]:
    import numpy as np

    from knowledgebeast.store.chroma import ChromaStore, HnswConfig

    store = ChromaStore.persistent(data_dir, hnsw=HnswConfig(), batch_size=5000)
    store.ensure_collection("scale", {"kb_model": "synthetic", "kb_dimension": DIMENSION})
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    _, centers = synthetic(1, 0)
    started = time.perf_counter()
    for offset in range(0, size, batch):
        n = min(batch, size - offset)
        vectors, _ = synthetic(n, offset + 1, centers)
        ids = [f"v{offset + i}" for i in range(n)]
        metadatas: list[dict[str, str | int | float | bool]] = [
            {"document_id": f"d{(offset + i) // 3}", "source": f"s{(offset + i) // 3}", "chunk_index": (offset + i) % 3}
            for i in range(n)
        ]
        store.upsert("scale", ids, vectors, [TEXT] * n, metadatas)
    insert_seconds = time.perf_counter() - started
    probes, _ = synthetic(queries + 10, 10**9, centers)
    results: dict[str, Any] = {}
    for limit in (10, 300):
        for vector in probes[:10]:
            store.search("scale", np.asarray(vector), limit=limit)
        samples = []
        for vector in probes[10:]:
            t0 = time.perf_counter()
            store.search("scale", np.asarray(vector), limit=limit)
            samples.append(time.perf_counter() - t0)
        results[f"top{limit}"] = latency_summary(samples)
    return {
        "size": size,
        "insert_seconds": round(insert_seconds, 1),
        "insert_per_s": round(size / insert_seconds, 1),
        "search": results,
        "rss_before_insert_mb": round(rss_before, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "store": "embedded PersistentClient",
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--batch", type=int, default=5000)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--worker-size", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker_size is not None:
        assert args.data_dir is not None
        print(json.dumps(worker(args.worker_size, args.data_dir, args.queries, args.batch)))
        return 0

    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    rows, results = [], []
    for size in sizes:
        workdir = Path(tempfile.mkdtemp(prefix=f"scale-{size}-", dir=BENCH_DIR))
        try:
            command = [
                sys.executable,
                "-m",
                "bench.scale",
                "--worker-size",
                str(size),
                "--data-dir",
                str(workdir),
                "--queries",
                str(args.queries),
                "--batch",
                str(args.batch),
            ]
            done = subprocess.run(command, capture_output=True, text=True, timeout=7200, check=False, cwd=REPO_ROOT)
            if done.returncode != 0:
                raise RuntimeError(f"scale worker {size} failed: {done.stderr[-2000:]}")
            result = json.loads(done.stdout.strip().splitlines()[-1])
            result["disk_mb"] = round(sum(p.stat().st_size for p in workdir.rglob("*") if p.is_file()) / 2**20, 1)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        results.append(result)
        rows.append(
            {
                "vectors": size,
                "insert_s": result["insert_seconds"],
                "insert_per_s": result["insert_per_s"],
                "top10_p50_ms": result["search"]["top10"]["p50_ms"],
                "top10_p95_ms": result["search"]["top10"]["p95_ms"],
                "top300_p50_ms": result["search"]["top300"]["p50_ms"],
                "top300_p95_ms": result["search"]["top300"]["p95_ms"],
                "peak_rss_mb": result["peak_rss_mb"],
                "disk_mb": result["disk_mb"],
            }
        )
        print(f"  {size} vectors done", file=sys.stderr)
    print_table(rows, list(rows[0]))
    write_json(args.json, {"results": results, "machine": machine_info()})
    last = results[-1]
    print(f"p95_ms@{last['size']}={last['search']['top300']['p95_ms']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
