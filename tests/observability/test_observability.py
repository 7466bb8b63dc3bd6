"""Metrics, EMF, spans and the dashboards/alerts that must match what the code exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from knowledgebeast.observability import metrics

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "observability"
PROMQL_WORDS = {
    "sum",
    "rate",
    "increase",
    "by",
    "without",
    "histogram_quantile",
    "clamp_min",
    "time",
    "and",
    "or",
    "unless",
    "avg",
    "max",
    "min",
    "count",
    "le",
    "on",
    "ignoring",
}


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return out


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def test_metrics_move_with_real_requests(make_services: Any, collection_name: str) -> None:
    from knowledgebeast.api.app import create_app

    client = TestClient(create_app(services=make_services()), raise_server_exceptions=False)
    assert (
        client.post(
            "/api/v1/documents", json={"text": "Backups run hourly.", "source": "b.txt", "collection": collection_name}
        ).status_code
        == 201
    )
    before = _samples(client.get("/metrics").text)
    for _ in range(3):
        assert client.post("/api/v1/query", json={"query": "backups", "collection": collection_name}).status_code == 200
    client.get("/api/v1/documents/abc123")
    after = _samples(client.get("/metrics").text)
    q = {"method": "POST", "route": "/api/v1/query", "status": "200"}
    assert _value(after, "http_requests_total", **q) - _value(before, "http_requests_total", **q) == 3
    doc = {"method": "GET", "route": "/api/v1/documents/{document_id}", "status": "404"}
    assert _value(after, "http_requests_total", **doc) - _value(before, "http_requests_total", **doc) == 1
    assert not any("abc123" in str(labels) for _, labels in after)  # templates, never raw paths
    assert (
        _value(after, "cache_requests_total", backend="memory")
        - _value(before, "cache_requests_total", backend="memory")
        == 3
    )
    assert (
        _value(after, "cache_hits_total", backend="memory") - _value(before, "cache_hits_total", backend="memory") == 2
    )
    embeds = _value(after, "query_stage_duration_seconds_count", stage="embed") - _value(
        before, "query_stage_duration_seconds_count", stage="embed"
    )
    assert embeds == 1  # two of the three were cache hits
    assert _value(after, "ingest_chunks_total") >= 1


def test_emf_lines_carry_the_same_names(capsys: pytest.CaptureFixture[str]) -> None:
    from knowledgebeast.observability.emf import emf_sink, enable_emf

    enable_emf()
    try:
        metrics.observe_http("POST", "/api/v1/query", 200, 0.012)
        metrics.count_ingest("indexed", 7)
    finally:
        metrics._sinks.remove(emf_sink)
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    by_name = {}
    for doc in lines:
        for directive in doc["_aws"]["CloudWatchMetrics"]:
            assert directive["Namespace"] == "KnowledgeBeast"
            for metric in directive["Metrics"]:
                by_name[metric["Name"]] = doc
    assert by_name["http_requests_total"]["route"] == "/api/v1/query"
    assert by_name["http_requests_total"]["status"] == "200"
    assert by_name["http_request_duration_seconds"]["http_request_duration_seconds"] == [pytest.approx(0.012)]
    assert by_name["ingest_chunks_total"]["ingest_chunks_total"] == [7]
    assert by_name["ingest_documents_total"]["result"] == "indexed"


def test_query_produces_a_span_tree(http_store: Any, embedder: Any, collection_name: str) -> None:
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from knowledgebeast.ingest import IngestService
    from knowledgebeast.observability.tracing import configure_tracing, set_tracer
    from knowledgebeast.query import QueryService
    from knowledgebeast.schemas import QueryRequest

    IngestService(http_store, embedder, embedder.token_counter).ingest_bytes(
        b"Spans are exported over OTLP.", collection=collection_name, source="t.txt"
    )
    exporter = InMemorySpanExporter()
    assert configure_tracing(None, 1.0, exporter=exporter)
    try:
        QueryService(http_store, embedder).query(QueryRequest(query="spans", collection=collection_name))
    finally:
        set_tracer(None)
    spans = {s.name: s for s in exporter.get_finished_spans()}
    root = spans["query"]
    for stage in ("query.embed", "query.search", "query.lexical"):
        assert spans[stage].parent is not None and spans[stage].parent.span_id == root.context.span_id
    assert not configure_tracing(None, 1.0)  # no endpoint: tracing stays off


def _exported_names() -> set[str]:
    names: set[str] = set()
    for family in text_string_to_metric_families(metrics_text()):
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    for collector in (metrics.HTTP_DURATION, metrics.QUERY_STAGE, metrics.EMBEDDING_BATCH):
        base = collector._name
        names.update({f"{base}_bucket", f"{base}_sum", f"{base}_count"})
    for counter in (
        metrics.HTTP_REQUESTS,
        metrics.CACHE_REQUESTS,
        metrics.CACHE_HITS,
        metrics.INGEST_DOCUMENTS,
        metrics.INGEST_CHUNKS,
    ):
        names.add(counter._name + "_total")
    names.add(metrics.BACKUP_LAST_SUCCESS._name)
    return names


def metrics_text() -> str:
    from prometheus_client import generate_latest

    return generate_latest().decode()


def _metric_names_in(expr: str) -> set[str]:
    stripped = re.sub(r"\{[^}]*\}", "", expr)
    stripped = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", stripped)
    stripped = re.sub(r"\[[^\]]*\]", "", stripped)
    return {w for w in re.findall(r"\b[a-zA-Z_][a-zA-Z0-9_]*\b", stripped) if w not in PROMQL_WORDS and "_" in w}


def test_alert_rules_are_valid_and_use_exported_metrics() -> None:
    rules = yaml.safe_load((DEPLOY / "prometheus-rules.yaml").read_text())
    exported = _exported_names()
    alerts = {}
    for group in rules["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}
            assert rule["expr"].count("(") == rule["expr"].count(")")
            assert re.fullmatch(r"\d+[smh]", rule["for"])
            assert rule["labels"]["severity"] in {"critical", "warning", "info"}
            used = _metric_names_in(rule["expr"])
            assert used and used <= exported, (rule["alert"], used - exported)
            alerts[rule["alert"]] = rule
    assert {"HighErrorRate", "HighLatency", "CacheHitRateLow", "IngestFailures", "BackupStale"} <= set(alerts)
    assert "> 0.5" in alerts["HighLatency"]["expr"]


def test_dashboard_queries_use_exported_metrics() -> None:
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exported = _exported_names()
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids)) >= 6
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used = _metric_names_in(target["expr"])
            assert used and used <= exported, (panel["title"], used - exported)


def test_emf_is_flushed_once_per_invocation(capsys: pytest.CaptureFixture[str]) -> None:
    """Inside a handler nothing is printed until it returns; then one document per dimension set."""
    from knowledgebeast.observability.emf import emf_sink, enable_emf, flush_metrics_after

    printed_during: list[str] = []

    @flush_metrics_after
    def handler() -> str:
        metrics.observe_stage("embed", 0.004)
        metrics.observe_stage("search", 0.006)
        metrics.observe_stage("embed", 0.005)
        metrics.observe_cache("redis", True)
        printed_during.append(capsys.readouterr().out)
        return "answered"

    enable_emf()
    try:
        capsys.readouterr()
        assert handler() == "answered"
    finally:
        metrics._sinks.remove(emf_sink)
    assert printed_during == [""]
    docs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert len(docs) == 3  # stage=embed, stage=search, backend=redis
    embed = next(d for d in docs if d.get("stage") == "embed")
    assert embed["query_stage_duration_seconds"] == [pytest.approx(0.004), pytest.approx(0.005)]
    assert embed["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["stage"]]
    cache = next(d for d in docs if d.get("backend") == "redis")
    assert cache["cache_requests_total"] == [1] and cache["cache_hits_total"] == [1]
    names = {m["Name"] for m in cache["_aws"]["CloudWatchMetrics"][0]["Metrics"]}
    assert names == {"cache_requests_total", "cache_hits_total"}
