"""Query caches: in-process LRU/TTL and real Redis, including Redis dying mid-run."""

from __future__ import annotations

import time
from typing import Any

import pytest

from knowledgebeast.cache.base import normalize_query, query_cache_key
from knowledgebeast.cache.memory import MemoryCache
from knowledgebeast.cache.redis_cache import RedisCache
from knowledgebeast.ingest import IngestService
from knowledgebeast.query import QueryService
from knowledgebeast.schemas import QueryRequest


def test_key_covers_everything_that_changes_the_answer() -> None:
    base = {"collection": "c", "version": "1", "query": "Deploy  AWS", "params": {"top_k": 5, "mode": "hybrid"}}
    key = query_cache_key(**base)  # type: ignore[arg-type]
    assert key == query_cache_key(**{**base, "query": "deploy aws"})  # type: ignore[arg-type]
    for change in (
        {"collection": "d"},
        {"version": "2"},
        {"query": "deploy gcp"},
        {"params": {"top_k": 6, "mode": "hybrid"}},
        {"params": {"top_k": 5, "mode": "dense"}},
    ):
        assert query_cache_key(**{**base, **change}) != key  # type: ignore[arg-type]
    assert normalize_query("\uff21\uff37\uff33\tDeploy ") == "aws deploy"  # fullwidth AWS


def test_memory_cache_lru_and_ttl() -> None:
    cache = MemoryCache(max_entries=2)
    cache.set("a", b"1", ttl=60)
    cache.set("b", b"2", ttl=60)
    assert cache.get("a") == b"1"
    cache.set("c", b"3", ttl=60)  # evicts b, the least recently used
    assert cache.get("b") is None and cache.get("a") == b"1" and cache.get("c") == b"3"
    cache.set("short", b"x", ttl=1)
    time.sleep(1.05)
    assert cache.get("short") is None
    assert cache.clear() == 1 and cache.get("c") is None  # "short" evicted "a", then expired


def test_redis_cache_roundtrip_and_clear(redis_server: Any) -> None:
    cache = RedisCache.connect("127.0.0.1", redis_server.port, timeout=5.0)
    cache.set("kb:q:one", b"payload", ttl=30)
    assert cache.get("kb:q:one") == b"payload"
    assert 0 < cache.client.ttl("kb:q:one") <= 30
    assert cache.clear() >= 1 and cache.get("kb:q:one") is None


def test_queries_survive_redis_dying_mid_run(http_store: Any, embedder: Any, collection_name: str) -> None:
    from tests.utils.servers import start_redis

    server = start_redis()
    try:
        ingest = IngestService(http_store, embedder, embedder.token_counter)
        ingest.ingest_bytes(b"Backups run every hour.", collection=collection_name, source="b.txt")
        cache = RedisCache.connect("127.0.0.1", server.port, timeout=5.0)
        service = QueryService(http_store, embedder, cache)
        request = QueryRequest(query="how often do backups run", collection=collection_name)
        assert not service.query(request).cached
        assert service.query(request).cached
        server.kill()
        after = service.query(request)
        assert not after.cached and after.results[0].citation.source == "b.txt"
        # the circuit breaker skips Redis afterwards: no connect timeout per query
        second = service.query(request)
        assert not second.cached and not cache.available()
        assert cache.ping() is False
    finally:
        server.kill()


@pytest.mark.parametrize("backend", ["memory", "redis"])
def test_cache_never_serves_answers_older_than_a_write(
    backend: str, http_store: Any, embedder: Any, collection_name: str, redis_server: Any
) -> None:
    cache = MemoryCache(10) if backend == "memory" else RedisCache.connect("127.0.0.1", redis_server.port, timeout=5.0)
    ingest = IngestService(http_store, embedder, embedder.token_counter)
    ingest.ingest_bytes(b"The launch code is alpha.", collection=collection_name, source="code.txt")
    service = QueryService(http_store, embedder, cache)
    request = QueryRequest(query="launch code", collection=collection_name)
    assert "alpha" in service.query(request).results[0].text
    assert service.query(request).cached
    # a second writer (another process in AWS) changes the document
    other_writer = IngestService(http_store, embedder, embedder.token_counter)
    other_writer.ingest_bytes(b"The launch code is bravo.", collection=collection_name, source="code.txt")
    fresh = service.query(request)
    assert not fresh.cached and "bravo" in fresh.results[0].text
