"""Load test of ``knowledgebeast serve`` as a container runs it: WORKERS processes, a Chroma
server, Valkey, API-key auth, N concurrent keep-alive clients for a bounded time, loopback only.

    python -m bench.load [--workers 2] [--clients 16] [--duration 60] [--server reuseport|shared]

Prints requests/s, errors and p50/p95/p99 per request kind (cached query, uncached query,
ingest) and each worker process's share of the server's CPU time. ``--server shared`` runs the
previous arrangement (``uvicorn --workers``: one listening socket shared by the workers) as a
baseline for the same run. Ingest goes to its own collection, so it never invalidates the cache.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx

from bench.common import REPO_ROOT, latency_summary, print_table
from tests.utils.servers import free_port, start_chroma, start_redis, wait_for_port

API_KEY = "bench-load-key"
CACHED_QUERIES = [
    "How do I deploy to AWS?",
    "What does the cache do?",
    "How are documents chunked?",
    "Which file formats are supported?",
]
WORDS = "vector index chunk embedding cache backup deploy query rerank lexical collection security".split()
MIX = [("cached", 6), ("uncached", 3), ("ingest", 1)]


def server_command(kind: str, port: int, workers: int) -> list[str]:
    if kind == "shared":
        exe = [sys.executable, "-m", "uvicorn", "knowledgebeast.api.asgi:app"]
        return [*exe, "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    return [sys.executable, "-m", "knowledgebeast.cli", "serve", "--host", "127.0.0.1", "--port", str(port)]


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def worker_pids(parent: int) -> list[int]:
    """Children of the server process that run the app (the spawn resource tracker is skipped)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if ppid == parent and b"resource_tracker" not in cmdline:
            pids.append(int(entry.name))
    return sorted(pids)


async def wait_ready(base: str) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        for _ in range(600):
            try:
                if (await client.get("/health/ready")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.5)
    raise RuntimeError("server never became ready")


async def seed(base: str) -> None:
    headers = {"X-API-Key": API_KEY}
    async with httpx.AsyncClient(base_url=base, timeout=300, headers=headers) as client:
        for path in sorted((REPO_ROOT / "examples" / "docs").iterdir()):
            with path.open("rb") as handle:
                response = await client.post(
                    "/api/v1/documents/upload", files={"file": (path.name, handle)}, data={"collection": "load"}
                )
            response.raise_for_status()
        for query in CACHED_QUERIES:  # warm the cache: these are hits from now on
            (await client.post("/api/v1/query", json={"query": query, "collection": "load"})).raise_for_status()


async def one_client(
    base: str, deadline: float, seed_value: int, samples: dict[str, list[float]], errors: dict[str, int]
) -> None:
    rng = random.Random(seed_value)
    kinds = [kind for kind, weight in MIX for _ in range(weight)]
    counter = itertools.count()
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)  # one keep-alive connection
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits, headers={"X-API-Key": API_KEY}) as client:
        while time.monotonic() < deadline:
            kind = rng.choice(kinds)
            n = next(counter)
            if kind == "cached":
                request = client.post("/api/v1/query", json={"query": rng.choice(CACHED_QUERIES), "collection": "load"})
            elif kind == "uncached":
                words = " ".join(rng.sample(WORDS, 4))
                request = client.post(
                    "/api/v1/query", json={"query": f"{words} {seed_value}-{n}", "collection": "load"}
                )
            else:
                text = f"Load document {seed_value}-{n}. " + " ".join(rng.choices(WORDS, k=60))
                body = {"text": text, "source": f"load/{seed_value}/{n}.txt", "collection": "load-ingest"}
                request = client.post("/api/v1/documents", json=body)
            started = time.perf_counter()
            try:
                response = await request
                status = str(response.status_code)
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            if status < "400":
                samples[kind].append(time.perf_counter() - started)
            else:
                errors[kind] += 1
                errors[f"{kind} {status}"] += 1


async def run_load(base: str, clients: int, duration: float) -> tuple[dict[str, list[float]], dict[str, int]]:
    samples: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    deadline = time.monotonic() + duration
    await asyncio.gather(*(one_client(base, deadline, i, samples, errors) for i in range(clients)))
    return samples, errors


def measure(args: argparse.Namespace, kind: str, chroma_port: int, redis_port: int, data: Path) -> dict[str, Any]:
    port = free_port()
    env = {
        **os.environ,
        "APP_ENV": "production",
        "API_KEY": API_KEY,
        "WORKERS": str(args.workers),
        "CHROMA_HOST": "127.0.0.1",
        "CHROMA_PORT": str(chroma_port),
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis_port),
        "RATE_LIMIT_PER_MINUTE": "0",
        "DATA_DIR": str(data),
    }
    server = subprocess.Popen(server_command(kind, port, args.workers), env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_for_port(port, timeout=180, process=server)
        asyncio.run(wait_ready(base))
        asyncio.run(seed(base))
        pids = worker_pids(server.pid)
        before = {pid: cpu_ticks(pid) for pid in pids}
        samples, errors = asyncio.run(run_load(base, args.clients, args.duration))
        used = {pid: cpu_ticks(pid) - before[pid] for pid in pids}
    finally:
        server.terminate()
        server.wait(timeout=60)
    total = sum(used.values()) or 1
    rows = []
    for name, _ in MIX:
        summary = latency_summary(samples[name])
        rows.append(
            {
                "server": kind,
                "kind": name,
                "requests": len(samples[name]),
                "rps": round(len(samples[name]) / args.duration, 1),
                "errors": errors[name],
                "p50_ms": summary["p50_ms"],
                "p95_ms": summary["p95_ms"],
                "p99_ms": summary["p99_ms"],
            }
        )
    return {
        "rows": rows,
        "rps": round(sum(len(v) for v in samples.values()) / args.duration, 1),
        "errors": sum(errors[name] for name, _ in MIX),
        "error_kinds": {key: value for key, value in errors.items() if " " in key},
        "cpu_share": [round(used[pid] / total, 3) for pid in pids],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of load per server (bounded)")
    parser.add_argument("--server", choices=["reuseport", "shared", "both"], default="both")
    args = parser.parse_args(argv)
    kinds = ["shared", "reuseport"] if args.server == "both" else [args.server]
    with tempfile.TemporaryDirectory(prefix="kb-load-") as tmp:
        chroma = start_chroma(Path(tmp) / "chroma")
        valkey = start_redis()
        try:
            results = {kind: measure(args, kind, chroma.port, valkey.port, Path(tmp) / "data") for kind in kinds}
        finally:
            chroma.stop()
            valkey.stop()
    print(f"load average {os.getloadavg()[0]:.2f} (1 min), {args.clients} keep-alive clients, {args.duration:g} s each")
    print_table([row for result in results.values() for row in result["rows"]], list(results[kinds[0]]["rows"][0]))
    for kind, result in results.items():
        print(
            f"{kind}: {result['rps']} requests/s, {result['errors']} errors {result['error_kinds'] or ''}, "
            f"worker CPU shares {result['cpu_share']}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
