"""Cold start: process start to first answered event, for the query (and ingest) Lambda handlers.

Why: a Lambda container pays imports, settings, the Chroma client and the ONNX session before
its first reply, and API Gateway users feel it. Each sample is a fresh interpreter
(bench/cold_probe.py) against a running ``chroma run`` server holding a small collection; the
median of N is reported, with a ``python -X importtime`` breakdown (top 10 top-level imports by
cumulative time) to show where the time goes. The torch baseline's cold start is measured the same
way when its venv exists.

    python -m bench.cold_start --runs 5 --json build/bench/results/cold_start.json

The last line printed is ``query_cold_start_ms=<median>``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
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
    print_table,
    write_json,
)
from bench.lambda_events import INGEST_HANDLER, QUERY_HANDLER

PROBE = REPO_ROOT / "bench" / "cold_probe.py"
#: torch's import alone took minutes on the loaded shared box: a timeout is reported, not raised
BASELINE_TIMEOUT_S = 1200
COLLECTION = "coldstart"


def seed(port: int, corpus: Path, docs: int) -> None:
    """A small real collection, written through the product's ingest path over HTTP."""
    from bench.retrieval import make_settings
    from knowledgebeast.factory import build_services

    settings = make_settings({}).model_copy(update={"chroma_host": "127.0.0.1", "chroma_port": port})
    services = build_services(settings)
    for doc in load_corpus(corpus)[:docs]:
        services.ingest_service.ingest_bytes(
            (doc.text or doc.title).encode(),
            collection=COLLECTION,
            source=doc.doc_id,
            filename=f"{doc.doc_id}.txt",
            title=doc.title or None,
        )


def child_env(port: int) -> dict[str, str]:
    env = {**os.environ, "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(port), "APP_ENV": "test"}
    env.setdefault("AWS_DEFAULT_REGION", "us-east-1")  # boto3 clients are built at import (ingest handler)
    return env


#: Set by --layers: the interpreter and flags that run the probe like the Lambda runtime does.
PROBE_PYTHON: list[str] = [sys.executable]


def merge_layers(sources: list[Path], target: Path) -> Path:
    """``target`` laid out like Lambda's /opt/python: every layer's ``python/`` extracted into one
    folder, later layers over earlier ones (symlinks, built once per call). It matters for the
    package's bytecode, which the deps layer carries next to where the package layer's sources land."""
    if target.exists():
        shutil.rmtree(target)
    for source in sources:
        for current, _, files in os.walk(source):
            here = target / Path(current).relative_to(source)
            here.mkdir(parents=True, exist_ok=True)
            for name in files:
                link = here / name
                if link.is_symlink() or link.exists():
                    link.unlink()
                link.symlink_to(Path(current) / name)
    return target


def layers_env(env: dict[str, str], layers: Path, variant: str) -> dict[str, str]:
    """The probe's sys.path is the built layers merged as in /opt/python, plus a runtime-like boto3."""
    package = REPO_ROOT / "layers" / "knowledgebeast" / "python"
    merged = merge_layers([layers / "deps" / "python", package], layers / ".opt-python")
    paths = [str(merged), str(layers / ".check-runtime")]
    return {
        **env,
        "KB_PROBE_SYS_PATH": json.dumps(paths),
        "EMBEDDING_MODEL_DIR": str(layers / "models" / "models" / "all-MiniLM-L6-v2"),
        "EMBEDDING_VARIANT": variant,
    }


def one_run(kind: str, env: dict[str, str]) -> dict[str, float]:
    started = time.time()
    done = subprocess.run(
        [*PROBE_PYTHON, str(PROBE), kind, COLLECTION, str(REPO_ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{kind} probe failed: {done.stderr[-2000:]}")
    out = json.loads(done.stdout.strip().splitlines()[-1])
    if out["status"] != 200:
        raise RuntimeError(f"{kind} probe answered {out['status']}: {out['response']}")
    return {
        "total_ms": (out["answered"] - started) * 1000,
        "interpreter_ms": (out["interpreter_to_main"] - started) * 1000,
        "import_ms": (out["imported"] - out["interpreter_to_main"]) * 1000,
        "init_ms": (out["ready"] - out["imported"]) * 1000,
        "first_event_ms": (out["answered"] - out["ready"]) * 1000,
    }


def importtime_top(kind: str, env: dict[str, str], top: int = 10) -> list[dict[str, Any]]:
    """Top-level imports by cumulative microseconds, from ``-X importtime`` of one probe run."""
    done = subprocess.run(
        [*PROBE_PYTHON, "-X", "importtime", str(PROBE), kind, COLLECTION, str(REPO_ROOT)],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
        cwd=REPO_ROOT,
    )
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, cumulative_us, name = line[len("import time:") :].split("|", 2)
        if name.startswith("  "):  # nested import: already counted in its parent's cumulative time
            continue
        rows.append(
            {
                "module": name.strip(),
                "cumulative_ms": round(int(cumulative_us) / 1000, 1),
                "self_ms": round(int(self_us) / 1000, 1),
            }
        )
    rows.sort(key=lambda r: -r["cumulative_ms"])
    return rows[:top]


def summarize(runs: list[dict[str, float]]) -> dict[str, float]:
    return {key: round(statistics.median(r[key] for r in runs), 1) for key in runs[0]} | {"runs": len(runs)}


def baseline_cold(port: int, runs: int) -> dict[str, float] | None:
    if not baseline_available():
        return None
    totals = []
    for _ in range(runs):
        started = time.time()
        done = subprocess.run(
            [
                str(BASELINE_PYTHON),
                str(REPO_ROOT / "bench" / "baseline_worker.py"),
                "cold",
                "--port",
                str(port),
                "--collection",
                "baseline-cold",
            ],
            capture_output=True,
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
            timeout=BASELINE_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"baseline cold probe failed: {done.stderr[-1500:]}")
        totals.append((json.loads(done.stdout.strip().splitlines()[-1])["first_answer_at"] - started) * 1000)
    return {"total_ms": round(statistics.median(totals), 1), "runs": runs}


def seed_baseline(port: int) -> None:
    import chromadb
    import numpy as np
    from chromadb.config import Settings as ChromaSettings

    client = chromadb.HttpClient(host="127.0.0.1", port=port, settings=ChromaSettings(anonymized_telemetry=False))
    collection = client.get_or_create_collection(
        "baseline-cold", embedding_function=None, configuration={"hnsw": {"space": "cosine"}}
    )
    vectors = np.random.default_rng(0).normal(size=(50, 384)).astype("float32")
    collection.upsert(ids=[str(i) for i in range(50)], embeddings=vectors.tolist(), documents=["x"] * 50)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=SCIFACT_DIR / "corpus.jsonl.gz")
    parser.add_argument("--docs", type=int, default=50, help="documents in the probe collection")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--baseline-runs", type=int, default=3)
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument(
        "--layers",
        type=Path,
        nargs="?",
        const=REPO_ROOT / "build" / "layers",
        default=None,
        help="run the probes on CPython 3.12 with -S -E -B and only the built layers on sys.path (make layers)",
    )
    parser.add_argument("--variant", default="fp32", help="model variant in the models layer (--layers)")
    args = parser.parse_args(argv)
    if args.layers is not None:
        from bench.lambda_events import load_module

        python = load_module(REPO_ROOT / "layers" / "build.py", "kb_layers_build").find_python312()
        if python is None:
            parser.error("--layers needs a CPython 3.12 interpreter (pyenv)")
        PROBE_PYTHON[:] = [python, "-S", "-E", "-B"]

    from bench.latency import start_server

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="cold-", dir=BENCH_DIR))
    server = start_server(workdir / "chroma")
    try:
        seed(server.port, args.corpus, args.docs)
        env = child_env(server.port)
        if args.layers is not None:
            env = layers_env(env, args.layers.resolve(), args.variant)
        results: dict[str, Any] = {}
        kinds = ["query"] + (["ingest"] if INGEST_HANDLER.exists() and args.layers is None else [])
        for kind in kinds:
            one_run(kind, env)  # page cache and .pyc warm, like a reused Lambda image
            results[kind] = summarize([one_run(kind, env) for _ in range(args.runs)])
            results[f"{kind}_importtime_top10"] = importtime_top(kind, env)
        if not INGEST_HANDLER.exists():
            results["ingest"] = None
            print("functions/ingest/handler.py not present: ingest cold start not measured", file=sys.stderr)
        print(json.dumps({"product": results}), file=sys.stderr)  # kept even if the baseline fails
        baseline: dict[str, Any] | None = None
        if not args.no_baseline and baseline_available():
            seed_baseline(server.port)
            try:
                baseline = baseline_cold(server.port, args.baseline_runs)
            except subprocess.TimeoutExpired:
                baseline = {"total_ms": f"> {BASELINE_TIMEOUT_S * 1000}", "runs": 0}
        rows = [{"handler": k, **v} for k, v in results.items() if isinstance(v, dict)]
        if baseline:
            rows.append({"handler": "baseline (torch ST + chromadb)", **baseline})
        print_table(rows, ["handler", "runs", "total_ms", "interpreter_ms", "import_ms", "init_ms", "first_event_ms"])
        print("\ntop imports (query handler, cumulative):")
        print_table(results["query_importtime_top10"], ["module", "cumulative_ms", "self_ms"])
        write_json(
            args.json,
            {
                "results": results,
                "baseline": baseline,
                "query_handler": str(QUERY_HANDLER) if QUERY_HANDLER.exists() else "fallback Mangum(create_app())",
                "probe_python": PROBE_PYTHON,
                "layers": str(args.layers) if args.layers else None,
                "machine": machine_info(),
            },
        )
        print(f"query_cold_start_ms={results['query']['total_ms']:.1f}")
    finally:
        server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
