"""Embedding throughput of the fp32 and int8 ONNX variants on real passages.

Answers "which variant should a deployment use": passages/s at the ingest batch size, load time
and file size, measured on SciFact abstracts of 70-250 word pieces (the range chunks end up in).
Timings are the best of ``--repeats`` runs, which filters out noise from other processes.

    python -m bench.embed_throughput [--model-dir DIR] [--passages 200] [--batch-size 32]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT, SCIFACT_DIR, load_corpus

DEFAULT_MODEL_DIR = REPO_ROOT / "build" / "models" / "all-MiniLM-L6-v2"


def select_passages(corpus: Path, count: int, min_tokens: int, max_tokens: int, counter: Any) -> list[str]:
    """The first ``count`` abstracts (corpus order, so runs are comparable) within the token range."""
    passages: list[str] = []
    for doc in load_corpus(corpus):
        if min_tokens <= counter.count(doc.text) <= max_tokens:
            passages.append(doc.text)
            if len(passages) == count:
                break
    if len(passages) < count:
        raise SystemExit(f"only {len(passages)} passages of {min_tokens}-{max_tokens} tokens in {corpus}")
    return passages


def measure(model_dir: Path, variant: str, passages: list[str], args: argparse.Namespace) -> dict[str, Any]:
    from knowledgebeast.embedding import OnnxEmbedder, load_manifest

    started = time.perf_counter()
    embedder = OnnxEmbedder(
        model_dir,
        variant=variant,  # type: ignore[arg-type]
        batch_size=args.batch_size,
        intra_op_threads=args.threads,
    )
    load_seconds = time.perf_counter() - started
    embedder.embed(passages[: args.batch_size])  # warm-up: first run allocates arenas
    runs, cpu = [], []
    for _ in range(args.repeats):
        started, cpu_started = time.perf_counter(), time.process_time()
        embedder.embed(passages)
        runs.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
    size = load_manifest(model_dir).variants[variant].size_bytes
    return {
        "variant": variant,
        "passages_per_s": len(passages) / min(runs),
        "passages_per_s_median": len(passages) / statistics.median(runs),
        # less sensitive to other processes than wall time (includes onnxruntime's spin-waits)
        "passages_per_cpu_s": len(passages) / min(cpu),
        "load_s": load_seconds,
        "size_mb": size / 1e6,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--corpus", type=Path, default=SCIFACT_DIR / "corpus.jsonl.gz")
    parser.add_argument("--passages", type=int, default=200)
    parser.add_argument("--min-tokens", type=int, default=70)
    parser.add_argument("--max-tokens", type=int, default=250)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="onnxruntime intra-op threads")
    parser.add_argument("--variants", default=None, help="comma-separated; default: all in the manifest")
    parser.add_argument("--json", type=Path, default=None, help="also write the results here")
    args = parser.parse_args(argv)

    from knowledgebeast.embedding import WordPieceTokenCounter, load_manifest

    manifest = load_manifest(args.model_dir)
    counter = WordPieceTokenCounter(manifest.tokenizer_path)
    passages = select_passages(args.corpus, args.passages, args.min_tokens, args.max_tokens, counter)
    mean_tokens = statistics.mean(counter.count(p) for p in passages)
    variants = args.variants.split(",") if args.variants else sorted(manifest.variants)
    results = [measure(args.model_dir, variant, passages, args) for variant in variants]

    print(
        f"{len(passages)} passages, mean {mean_tokens:.0f} word pieces, batch {args.batch_size}, "
        f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()}), "
        f"load average {os.getloadavg()[0]:.1f}"
    )
    print(f"{'variant':<8}{'passages/s':>12}{'median':>10}{'per CPU-s':>11}{'load s':>9}{'size MB':>9}")
    for r in results:
        print(
            f"{r['variant']:<8}{r['passages_per_s']:>12.1f}{r['passages_per_s_median']:>10.1f}"
            f"{r['passages_per_cpu_s']:>11.1f}{r['load_s']:>9.2f}{r['size_mb']:>9.1f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        payload = {
            "passages": len(passages),
            "mean_tokens": mean_tokens,
            "batch_size": args.batch_size,
            "results": results,
        }
        args.json.write_text(json.dumps(payload, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
