"""Prometheus across uvicorn workers: prometheus-client's multiprocess mode.

With WORKERS > 1 every worker is its own process with its own counters, so a scrape of
``/metrics`` would show whichever worker answered. In multiprocess mode each worker writes its
samples to files in ``PROMETHEUS_MULTIPROC_DIR`` and an exposition sums every worker's files.
prometheus-client decides the mode when it is first imported, so ``serve`` prepares the
directory and the variable *before* the worker processes start (they are spawned, not forked).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_directory(configured: Path | None) -> Path:
    """An empty directory for this run's sample files (stale files would add old counts)."""
    directory = configured or Path(tempfile.mkdtemp(prefix="kb-prometheus-"))
    directory.mkdir(parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):
        stale.unlink()
    os.environ[ENV] = str(directory)
    return directory


def enabled() -> bool:
    return bool(os.environ.get(ENV))


def registry() -> Any:
    """The registry to expose: every worker's samples in multiprocess mode, else this process's."""
    from prometheus_client import REGISTRY

    if not enabled():
        return REGISTRY
    from prometheus_client import CollectorRegistry, multiprocess

    combined = CollectorRegistry()
    multiprocess.MultiProcessCollector(combined)
    return combined
