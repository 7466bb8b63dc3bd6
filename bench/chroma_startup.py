"""Chroma start-up time against index size: sizes the Chroma container's health-check start period.

For each size a data directory of synthetic 384-d vectors (bench.scale's clustered unit vectors,
400-character texts, cosine HNSW) is written once through the product's adapter by a process that
then exits, then ``chroma run`` is started on it ``--repeats`` times (the first open apart: it may
apply what the writer left in Chroma's log) and timed until

- ``healthy``: its heartbeat answers 200 (what the container health check sees through the proxy);
- ``first_query``: a top-10 query on the collection answers (the index is loaded and searchable).

    python -m bench.chroma_startup --sizes 0,20000,100000 --repeats 3 --json build/bench/results/chroma_startup.json

The page cache is warm after the write (dropping it would disturb the other users of the machine),
so EFS reads on a fresh task come on top: containers/chromadb/README.md adds that margin.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import BENCH_DIR, machine_info, print_table, write_json
from bench.scale import DIMENSION, TEXT, synthetic

COLLECTION = "startup"


def fill(data_dir: Path, size: int, batch: int = 5000) -> float:
    """Write ``size`` vectors into a fresh store at ``data_dir``; returns the seconds it took."""
    from knowledgebeast.store.chroma import ChromaStore, HnswConfig

    store = ChromaStore.persistent(data_dir, hnsw=HnswConfig(), batch_size=batch)
    store.ensure_collection(COLLECTION, {"kb_model": "synthetic", "kb_dimension": DIMENSION})
    _, centers = synthetic(1, 0)
    started = time.perf_counter()
    for offset in range(0, size, batch):
        n = min(batch, size - offset)
        vectors, _ = synthetic(n, offset + 1, centers)
        ids = [f"v{offset + i}" for i in range(n)]
        metadatas: list[dict[str, str | int | float | bool]] = [
            {"document_id": f"d{(offset + i) // 3}"} for i in range(n)
        ]
        store.upsert(COLLECTION, ids, vectors, [TEXT] * n, metadatas)
    return time.perf_counter() - started


def time_start(data_dir: Path, probe: Any) -> dict[str, float]:
    """Start ``chroma run`` on ``data_dir``; seconds to a healthy heartbeat and to a first answer."""
    import httpx

    from knowledgebeast.store.chroma import ChromaStore
    from tests.utils.servers import chroma_command, free_port

    port = free_port()
    args = [*chroma_command(), "run", "--path", str(data_dir), "--host", "127.0.0.1", "--port", str(port)]
    started = time.perf_counter()
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"chroma run exited with {process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{port}/api/v2/heartbeat", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        healthy = time.perf_counter() - started
        store = ChromaStore.http("127.0.0.1", port)
        hits = store.search(COLLECTION, probe, limit=10)
        first_query = time.perf_counter() - started
        return {"healthy_s": healthy, "first_query_s": first_query, "hits": float(len(hits))}
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _fill_in_subprocess(data_dir: Path, size: int) -> float:
    """Write the store from a separate process that then exits, as the ingest writer would."""
    import json
    import sys

    from bench.common import REPO_ROOT

    command = [sys.executable, "-m", "bench.chroma_startup", "--fill", str(size), "--data-dir", str(data_dir)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=7200, check=True, cwd=REPO_ROOT)
    return float(json.loads(done.stdout.strip().splitlines()[-1])["fill_s"])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="0,20000,100000")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--fill", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.fill is not None:
        import json

        assert args.data_dir is not None
        print(json.dumps({"fill_s": fill(args.data_dir, args.fill)}))
        return 0

    import numpy as np

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    probe = np.asarray(synthetic(1, 10**9, synthetic(1, 0)[1])[0][0])
    rows, results = [], []
    for size in [int(s) for s in args.sizes.split(",") if s.strip()]:
        workdir = Path(tempfile.mkdtemp(prefix=f"startup-{size}-", dir=BENCH_DIR))
        try:
            fill_seconds = _fill_in_subprocess(workdir, size)
            disk_mb = sum(p.stat().st_size for p in workdir.rglob("*") if p.is_file()) / 2**20
            runs = []
            for _ in range(args.repeats):
                runs.append({**time_start(workdir, probe), "load1": os.getloadavg()[0]})
        finally:
            shutil.rmtree(workdir, ignore_errors=True)
        results.append({"vectors": size, "fill_s": fill_seconds, "disk_mb": disk_mb, "runs": runs})
        first, again = runs[0], runs[1:] or runs
        rows.append(
            {
                "vectors": size,
                "disk_mb": round(disk_mb, 1),
                "first_open_healthy_s": round(first["healthy_s"], 2),
                "first_open_query_s": round(first["first_query_s"], 2),
                "reopen_healthy_median_s": round(statistics.median(r["healthy_s"] for r in again), 2),
                "reopen_query_median_s": round(statistics.median(r["first_query_s"] for r in again), 2),
                "load1": round(statistics.mean(r["load1"] for r in runs), 1),
            }
        )
    print_table(rows, list(rows[0]))
    write_json(args.json, {"results": results, "machine": machine_info()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
