"""The product's metrics, defined once.

Names and labels are the contract with dashboards and alerts (deploy/observability/), so they
live here and nowhere else. Prometheus collectors back ``/metrics``; on Lambda the same
observations are also emitted as EMF by :mod:`knowledgebeast.observability.emf` when enabled.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUESTS = Counter("http_requests_total", "HTTP requests by route template", ["method", "route", "status"])
HTTP_DURATION = Histogram(
    "http_request_duration_seconds",
    "HTTP request latency by route template",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
CACHE_REQUESTS = Counter("cache_requests_total", "Query cache lookups", ["backend"])
CACHE_HITS = Counter("cache_hits_total", "Query cache hits", ["backend"])
QUERY_STAGE = Histogram("query_stage_duration_seconds", "Time per query stage", ["stage"], buckets=LATENCY_BUCKETS)
INGEST_DOCUMENTS = Counter("ingest_documents_total", "Documents processed by outcome", ["result"])
INGEST_CHUNKS = Counter("ingest_chunks_total", "Chunks written")
EMBEDDING_BATCH = Histogram("embedding_batch_seconds", "Time to embed one ingest batch", buckets=LATENCY_BUCKETS)
BACKUP_LAST_SUCCESS = Gauge(
    "backup_last_success_timestamp_seconds", "Unix time of the last complete backup", multiprocess_mode="max"
)
RECONCILE_DOCUMENTS = Gauge(
    "reconcile_documents", "Documents found out of step with their source by the last reconcile", ["state"]
)

#: Extra sinks (e.g. Lambda EMF) called as sink(name, value, unit, dimensions).
_sinks: list[Callable[[str, float, str, dict[str, str]], None]] = []


def add_sink(sink: Callable[[str, float, str, dict[str, str]], None]) -> None:
    _sinks.append(sink)


def _emit(name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
    for sink in _sinks:
        sink(name, value, unit, dimensions)


def observe_http(method: str, route: str, status: int, seconds: float) -> None:
    HTTP_REQUESTS.labels(method, route, str(status)).inc()
    HTTP_DURATION.labels(method, route).observe(seconds)
    dims = {"method": method, "route": route, "status": str(status)}
    _emit("http_requests_total", 1, "Count", dims)
    _emit("http_request_duration_seconds", seconds, "Seconds", {"method": method, "route": route})


def observe_cache(backend: str, hit: bool) -> None:
    CACHE_REQUESTS.labels(backend).inc()
    _emit("cache_requests_total", 1, "Count", {"backend": backend})
    if hit:
        CACHE_HITS.labels(backend).inc()
        _emit("cache_hits_total", 1, "Count", {"backend": backend})


def observe_stage(stage: str, seconds: float) -> None:
    QUERY_STAGE.labels(stage).observe(seconds)
    _emit("query_stage_duration_seconds", seconds, "Seconds", {"stage": stage})


def count_ingest(result: str, chunks: int) -> None:
    INGEST_DOCUMENTS.labels(result).inc()
    _emit("ingest_documents_total", 1, "Count", {"result": result})
    if chunks:
        INGEST_CHUNKS.inc(chunks)
        _emit("ingest_chunks_total", chunks, "Count", {})


def observe_embedding_batch(seconds: float) -> None:
    EMBEDDING_BATCH.observe(seconds)
    _emit("embedding_batch_seconds", seconds, "Seconds", {})


def mark_backup_success(timestamp: float | None = None) -> None:
    value = time.time() if timestamp is None else timestamp
    BACKUP_LAST_SUCCESS.set(value)
    _emit("backup_last_success_timestamp_seconds", value, "Seconds", {})


def observe_reconcile(*, missing: int, stale: int, orphaned: int, repaired: int) -> None:
    """One reconcile run: drift found (missing, stale, orphaned) and repairs started.

    ``reconcile_drift_documents`` (their sum, no dimension) is what the drift alarm watches.
    """
    for state, value in (("missing", missing), ("stale", stale), ("orphaned", orphaned), ("repaired", repaired)):
        RECONCILE_DOCUMENTS.labels(state).set(value)
        _emit("reconcile_documents", value, "Count", {"state": state})
    _emit("reconcile_drift_documents", missing + stale + orphaned, "Count", {})
