"""Smoke run of ``python -m bench.load`` (a few seconds of load) so the load bench cannot rot.

Checks the output contract, not the numbers: a row per request kind, requests/s, errors and the
CPU share of each of the two worker processes.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

pytestmark = pytest.mark.slow


def test_load_bench_reports_every_kind_and_each_worker(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.load import main

    assert main(["--duration", "4", "--clients", "4", "--workers", "2", "--server", "reuseport"]) == 0
    out = capsys.readouterr().out
    for kind in ("cached", "uncached", "ingest"):
        assert re.search(rf"\| reuseport \| {kind} \| \d+ \|", out), out
    summary = re.search(r"reuseport: ([0-9.]+) requests/s, (\d+) errors .*worker CPU shares \[([0-9., ]+)\]", out)
    assert summary, out
    assert float(summary.group(1)) > 0 and summary.group(2) == "0"
    assert len(summary.group(3).split(",")) == 2
