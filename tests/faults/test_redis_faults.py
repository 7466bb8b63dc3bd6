"""Redis faults against the real app: killed mid-run, and hung (accepts, never answers).

Documented behaviour (knowledgebeast.security.ratelimit): queries keep answering uncached, and
rate limiting FAILS OPEN to a per-instance limiter with the same limit, logged once per outage,
back on Redis after it returns.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.faults.conftest import Blackhole, ConnectAttempts
from tests.utils.servers import ServerProcess

KEY = "fault-test-key-0123456789abcdef"


def _app(make_services: Any, redis_port: int, collection: str, **overrides: Any) -> tuple[TestClient, Any]:
    from knowledgebeast.api.app import create_app

    services = make_services(
        app_env="production", api_key=KEY, redis_host="127.0.0.1", redis_port=redis_port, **overrides
    )
    # indexed beforehand by a writer without Redis: with Redis configured a write needs Redis to
    # acknowledge it (knowledgebeast.cache.versions), and this Redis may be a black hole
    make_services().ingest_service.ingest_bytes(
        b"The on-call rotation changes every Monday at nine.", collection=collection, source="oncall.txt"
    )
    return TestClient(create_app(services=services), raise_server_exceptions=False), services


def _ask(client: TestClient, collection: str, text: str = "when does the on-call rotation change") -> Any:
    return client.post("/api/v1/query", json={"query": text, "collection": collection}, headers={"X-API-Key": KEY})


def _outage_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if "redis unavailable for rate limiting" in r.getMessage()]


def test_redis_killed_queries_answer_uncached_and_limits_fail_open(
    make_services: Any,
    own_redis: ServerProcess,
    collection_name: str,
    caplog: pytest.LogCaptureFixture,
    connect_attempts: ConnectAttempts,
) -> None:
    client, services = _app(make_services, own_redis.port, collection_name, rate_limit_per_minute=6)
    limiter = client.app.state.rate_limiter  # type: ignore[attr-defined]
    limiter._cooldown = 0.5  # shorten the circuit breaker so the test can watch Redis come back
    first = _ask(client, collection_name)
    assert first.status_code == 200 and first.json()["cached"] is False
    assert _ask(client, collection_name).json()["cached"] is True
    assert first.headers["x-ratelimit-remaining"] == "5"

    own_redis.kill()
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="knowledgebeast"):
        before = connect_attempts.to(own_redis.port)
        down = _ask(client, collection_name)
        assert down.status_code == 200 and down.json()["cached"] is False
        assert down.json()["results"][0]["citation"]["source"] == "oncall.txt"
        # limiter and cache each try once plus their one immediate reconnect (Retry(NoBackoff(), 1),
        # which heals a stale pooled connection), then both breakers are open. redis-py's default
        # (3 retries with backoff from 1 s) made 8 attempts and this query take 8.5 s.
        attempts = connect_attempts.to(own_redis.port) - before
        assert 1 <= attempts <= 4
        assert limiter.degraded
        # per-instance limiting: the fallback starts a fresh window with the same limit (6)
        statuses = [_ask(client, collection_name).status_code for _ in range(6)]
    assert statuses == [200, 200, 200, 200, 200, 429]
    assert len(_outage_logs(caplog)) == 1  # logged once per outage, not once per request
    assert services.cache.available() is False  # the cache's own breaker is open too

    own_redis.restart()  # same port, empty (no persistence): the shared count restarts
    time.sleep(0.6)
    with caplog.at_level(logging.INFO, logger="knowledgebeast"):
        back = _ask(client, collection_name, "who is on call")
    assert back.status_code == 200
    assert not limiter.degraded and "redis rate limiting restored" in caplog.text
    assert back.headers["x-ratelimit-remaining"] == "5"  # counted in Redis again (fresh window there)
    assert any(k.startswith(b"kb:rl:") for k in limiter._client.scan_iter())


def test_hung_redis_times_out_and_is_skipped(
    make_services: Any,
    blackhole: Blackhole,
    collection_name: str,
    caplog: pytest.LogCaptureFixture,
    connect_attempts: ConnectAttempts,
) -> None:
    """A Redis that accepts connections and never answers costs one timeout, then nothing."""
    client, _ = _app(make_services, blackhole.port, collection_name, rate_limit_per_minute=3, redis_timeout_seconds=0.3)
    with caplog.at_level(logging.WARNING, logger="knowledgebeast"):
        first = _ask(client, collection_name)
    assert first.status_code == 200 and first.json()["cached"] is False
    assert first.headers["x-ratelimit-remaining"] == "2"  # counted by the in-process fallback
    # one read timeout for the limiter and one for the cache (no retries: a retry after a timeout
    # reconnects, which would count here), then both breakers are open
    assert connect_attempts.to(blackhole.port) == 2
    assert "redis unavailable, continuing uncached" in caplog.text
    second = _ask(client, collection_name, "what changes on Monday")
    # no Redis round trip at all (breakers open): not even a connection attempt
    assert second.status_code == 200 and connect_attempts.to(blackhole.port) == 2
    assert _ask(client, collection_name).status_code == 200
    refused = _ask(client, collection_name)
    assert refused.status_code == 429 and refused.headers["retry-after"]
    assert len(_outage_logs(caplog)) == 1
    assert "redis unavailable, continuing uncached" in caplog.text
    # health says degraded, not down: the API is still serving
    ready = client.get("/health/ready")
    assert ready.status_code == 200 and ready.json()["checks"]["cache"]["status"] == "degraded"
