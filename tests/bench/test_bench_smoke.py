"""Smoke runs of every benchmark on a tiny real-data BEIR cut, so the benches cannot rot.

Each bench is run through its ``main(argv)`` exactly as from the command line, on 15 SciFact
documents and 5 queries written to tmp; the tests check the output contract (metrics keys in the
JSON, the ``name=value`` last line) and not the numbers, which mean nothing at this size. The
torch baseline is exercised only when build/bench/venv-baseline exists (the test never installs
it). Slow on a loaded 2-core machine (model load, ``chroma run``), hence ``slow``.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.common import SCIFACT_DIR, baseline_available, write_beir_subset  # noqa: E402

pytestmark = pytest.mark.slow
#: Committed 20-document sample, so the smoke runs never skip when ../shared is absent.
MINI_SCIFACT = REPO / "tests" / "fixtures" / "scifact-mini"

LAST_LINE = re.compile(r"^[A-Za-z0-9_@]+=[0-9.]+$")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    source = SCIFACT_DIR if (SCIFACT_DIR / "corpus.jsonl.gz").is_file() else MINI_SCIFACT
    root = tmp_path_factory.mktemp("beir")
    paths = write_beir_subset(source, root / "data", n_queries=5, n_docs=15)
    paths["index_root"] = root / "indexes"
    return paths


def last_line(out: str) -> str:
    line = out.strip().splitlines()[-1]
    assert LAST_LINE.match(line), line
    return line


def test_retrieval_all_modes(tiny: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import retrieval

    out_json = tmp_path / "r.json"
    argv = ["--corpus", str(tiny["corpus"]), "--queries", str(tiny["queries"]), "--qrels", str(tiny["qrels"])]
    argv += ["--mode", "all", "--json", str(out_json), "--index-root", str(tiny["index_root"])]
    assert retrieval.main(argv) == 0
    line = last_line(capsys.readouterr().out)
    assert line.startswith("nDCG@10=")
    payload = json.loads(out_json.read_text())
    for mode in ("dense", "lexical", "hybrid"):
        assert set(retrieval.METRIC_KEYS) <= set(payload["results"][mode])
        assert payload["results"][mode]["queries"] == 5
    assert float(line.split("=")[1]) == pytest.approx(payload["results"]["hybrid"]["ndcg@10"], abs=1e-4)

    # second run reuses the cached index and honours --limit-queries and query-time --set
    assert (
        retrieval.main(
            [
                *argv[:6],
                "--index-root",
                str(tiny["index_root"]),
                "--limit-queries",
                "2",
                "--set",
                "candidate_depth=50",
                "--json",
                str(out_json),
            ]
        )
        == 0
    )
    payload = json.loads(out_json.read_text())
    assert payload["index"]["reused"] is True
    assert payload["results"]["hybrid"]["queries"] == 2


def test_tune(tiny: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import tune

    out_json = tmp_path / "t.json"
    argv = ["--corpus", str(tiny["corpus"]), "--queries", str(tiny["queries"]), "--qrels", str(tiny["qrels"])]
    argv += ["--index-root", str(tiny["index_root"]), "--vary", "fusion_rrf_k=10,60", "--json", str(out_json)]
    argv += ["--config", "fusion_method=blend,fusion_lexical_weight=0.5"]
    assert tune.main(argv) == 0
    assert last_line(capsys.readouterr().out).startswith("nDCG@10=")
    assert len(json.loads(out_json.read_text())["rows"]) == 4


def test_latency(tiny: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import latency

    out_json = tmp_path / "l.json"
    argv = ["--corpus", str(tiny["corpus"]), "--queries", str(tiny["queries"]), "--n", "3", "--warmup", "1"]
    argv += ["--index-root", str(tiny["index_root"]), "--no-baseline", "--json", str(out_json)]
    assert latency.main(argv) == 0
    assert last_line(capsys.readouterr().out).startswith("p95_ms=")
    results = json.loads(out_json.read_text())["results"]
    for case in ("hybrid_uncached", "hybrid_cached", "dense_uncached", "dense_cached"):
        assert {"p50_ms", "p95_ms", "p99_ms"} <= set(results[case])


def test_cold_start(tiny: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import cold_start

    out_json = tmp_path / "c.json"
    argv = ["--corpus", str(tiny["corpus"]), "--docs", "3", "--runs", "1", "--no-baseline", "--json", str(out_json)]
    assert cold_start.main(argv) == 0
    assert last_line(capsys.readouterr().out).startswith("query_cold_start_ms=")
    results = json.loads(out_json.read_text())["results"]
    assert results["query"]["total_ms"] > 0
    assert results["query_importtime_top10"]


def test_ingest_throughput(tiny: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import ingest_throughput

    out_json = tmp_path / "i.json"
    argv = ["--corpus", str(tiny["corpus"]), "--docs", "3", "--json", str(out_json)]
    if not baseline_available():
        argv.append("--no-baseline")
    assert ingest_throughput.main(argv) == 0
    assert last_line(capsys.readouterr().out).startswith("docs_per_s=")
    payload = json.loads(out_json.read_text())
    assert {"docs_per_s", "chunks_per_s", "peak_rss_mb"} <= set(payload["product"])
    if baseline_available():
        assert {"docs_per_s_ratio", "peak_rss_ratio"} <= set(payload["ratios"])


def test_scale(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from bench import scale

    out_json = tmp_path / "s.json"
    assert scale.main(["--sizes", "300", "--queries", "5", "--batch", "100", "--json", str(out_json)]) == 0
    assert last_line(capsys.readouterr().out).startswith("p95_ms@300=")
    result = json.loads(out_json.read_text())["results"][0]
    assert {"insert_seconds", "peak_rss_mb", "search"} <= set(result)
