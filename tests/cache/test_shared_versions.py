"""Collection versions and chunk records shared through a real Redis by two service instances.

What must hold (knowledgebeast.cache.versions): once a write is acknowledged, no query answers from
a cache entry computed before it, across instances, through Redis restarts and evictions, and
whatever the interleaving of a reader filling Redis with a writer. Interleavings are replayed
deterministically by running the writer (or the eviction, or the restart) *inside* the reader's
Chroma read, which is the only window the protocol has.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from knowledgebeast.cache.redis_cache import RedisCache
from knowledgebeast.cache.versions import PREFIX, SharedVersions
from knowledgebeast.errors import CollectionNotFoundError, StoreUnavailableError
from knowledgebeast.ingest import IngestService
from knowledgebeast.query import QueryService
from knowledgebeast.schemas import QueryRequest
from knowledgebeast.store.chroma import ChromaStore
from tests.utils.servers import ServerProcess, start_redis

FIRST = b"The release train leaves every Tuesday after the code freeze."
SECOND = b"Since March the release train leaves on Thursdays, the freeze moved with it."
QUESTION = "when does the release train leave"


@pytest.fixture
def redis() -> Iterator[ServerProcess]:
    """A private Redis: these tests restart it and change its eviction policy."""
    server = start_redis()
    yield server
    server.stop()


class Instance:
    """One Lambda-like instance: its own clients, in-process caches and services; Redis and Chroma shared."""

    def __init__(self, chroma_port: int, redis_port: int, embedder: Any) -> None:
        self.cache = RedisCache.connect("127.0.0.1", redis_port, timeout=0.5)
        self.cache._cooldown = 0.0  # let every call try Redis again: the tests restart it on purpose
        self.versions = SharedVersions(self.cache)
        self.store = ChromaStore.http("127.0.0.1", chroma_port, versions=self.versions, shared_records=None)
        self.ingest = IngestService(self.store, embedder, embedder.token_counter)
        self.query_service = QueryService(self.store, embedder, self.cache)

    def ask(self, collection: str) -> Any:
        return self.query_service.query(QueryRequest(query=QUESTION, collection=collection, top_k=3))

    def write(self, collection: str, text: bytes) -> None:
        self.ingest.ingest_bytes(text, collection=collection, source="release.txt")


@pytest.fixture
def pair(chroma_server: Any, redis: ServerProcess, embedder: Any) -> tuple[Instance, Instance]:
    return Instance(chroma_server.port, redis.port, embedder), Instance(chroma_server.port, redis.port, embedder)


def _first_answer_cached(writer: Instance, reader: Instance, collection: str) -> None:
    """The writer indexes FIRST; the reader answers it once and then from the shared cache."""
    writer.write(collection, FIRST)
    assert reader.ask(collection).cached is False
    assert reader.ask(collection).cached is True


def _text(response: Any) -> str:
    return response.results[0].text


def _truth(store: ChromaStore, collection: str) -> str:
    return store._read_version(collection)


def test_write_on_one_instance_is_seen_by_the_other(pair: tuple[Instance, Instance], collection_name: str) -> None:
    writer, reader = pair
    writer.write(collection_name, FIRST)
    assert reader.ask(collection_name).cached is False
    cached = reader.ask(collection_name)
    assert cached.cached is True and _text(cached) == FIRST.decode()
    version_before = reader.store.collection_version(collection_name)

    writer.write(collection_name, SECOND)

    after = reader.ask(collection_name)
    assert after.cached is False and _text(after) == SECOND.decode()
    assert reader.store.collection_version(collection_name) == _truth(writer.store, collection_name)
    assert reader.store.collection_version(collection_name) != version_before


def test_version_comes_from_redis_without_a_chroma_read(
    pair: tuple[Instance, Instance], collection_name: str, chroma_server: Any
) -> None:
    """The point of the tier: a cache hit needs no Chroma round trip at all."""
    writer, reader = pair
    writer.write(collection_name, FIRST)
    assert reader.ask(collection_name).cached is False
    chroma_server.stop()
    try:
        hit = reader.ask(collection_name)
        assert hit.cached is True and _text(hit) == FIRST.decode()
    finally:
        chroma_server.restart()


def test_redis_restart_loses_nothing_that_matters(
    pair: tuple[Instance, Instance], redis: ServerProcess, collection_name: str
) -> None:
    writer, reader = pair
    _first_answer_cached(writer, reader, collection_name)
    redis.restart()  # empty again (no persistence): versions and answers are gone
    assert reader.ask(collection_name).cached is False  # refilled from Chroma
    writer.write(collection_name, SECOND)
    assert _text(reader.ask(collection_name)) == SECOND.decode()


def test_write_while_redis_is_down_is_refused_then_retried(
    pair: tuple[Instance, Instance], redis: ServerProcess, collection_name: str
) -> None:
    """A writer that cannot invalidate Redis must not acknowledge: the retry then succeeds."""
    writer, reader = pair
    _first_answer_cached(writer, reader, collection_name)
    redis.stop()
    with pytest.raises(StoreUnavailableError):
        writer.write(collection_name, SECOND)
    # Redis down: the reader answers from Chroma, uncached (its breaker skips Redis)
    assert reader.ask(collection_name).cached is False
    redis.restart()
    writer.write(collection_name, SECOND)  # the retry (SQS redelivery / the client) redoes the write
    assert _text(reader.ask(collection_name)) == SECOND.decode()


def test_eviction_under_memory_pressure_never_serves_a_stale_answer(
    pair: tuple[Instance, Instance], redis: ServerProcess, collection_name: str
) -> None:
    """Real evictions (allkeys-lru, a tiny maxmemory): the version key goes, answers stay right."""
    writer, reader = pair
    _first_answer_cached(writer, reader, collection_name)
    client = reader.cache.client
    client.config_set("maxmemory-policy", "allkeys-lru")
    client.config_set("maxmemory", str(client.info("memory")["used_memory"] + 2_000_000))
    version_key = PREFIX + collection_name
    filler = 0
    while client.exists(version_key) and filler < 20_000:
        client.set(f"filler:{filler}", b"x" * 4096)
        filler += 1
    assert not client.exists(version_key), "the version key was never evicted"
    assert int(client.info("stats")["evicted_keys"]) > 0
    writer.write(collection_name, SECOND)
    assert _text(reader.ask(collection_name)) == SECOND.decode()
    client.config_set("maxmemory", "0")


Step = Callable[[], None]


def _reader_with_step(instance: Instance, collection: str, step: Step) -> str:
    """The reader's protocol with ``step`` run while it reads Chroma (after its claim, before its fill)."""

    def read_truth() -> str:
        truth = _truth(instance.store, collection)
        step()
        return truth

    return instance.versions.current(collection, read_truth)


@pytest.mark.parametrize("disturbance", ["write", "evict-then-write", "write-then-evict", "restart-then-write"])
def test_a_reader_filling_redis_never_publishes_a_version_older_than_a_finished_write(
    pair: tuple[Instance, Instance], redis: ServerProcess, collection_name: str, disturbance: str
) -> None:
    writer, reader = pair
    writer.write(collection_name, FIRST)
    client = reader.cache.client
    client.delete(PREFIX + collection_name)  # the reader finds the key missing and claims it
    old = _truth(writer.store, collection_name)

    def evict() -> None:
        client.delete(PREFIX + collection_name)

    steps: dict[str, list[Step]] = {
        "write": [lambda: writer.write(collection_name, SECOND)],
        "evict-then-write": [evict, lambda: writer.write(collection_name, SECOND)],
        "write-then-evict": [lambda: writer.write(collection_name, SECOND), evict],
        "restart-then-write": [redis.restart, lambda: writer.write(collection_name, SECOND)],
    }

    def step() -> None:
        for action in steps[disturbance]:
            action()

    answered = _reader_with_step(reader, collection_name, step)
    assert answered == old  # the reader itself read Chroma before the write: fine, the write was not done
    new = _truth(writer.store, collection_name)
    assert new != old
    # ... but nothing it did may make the old version current again, for anyone
    assert reader.store.collection_version(collection_name) == new
    assert writer.store.collection_version(collection_name) == new
    assert _text(reader.ask(collection_name)) == SECOND.decode()


def test_two_writers_interleaved_end_on_the_last_version(pair: tuple[Instance, Instance], collection_name: str) -> None:
    """Writer B's whole write runs inside writer A's version bump: Redis ends on Chroma's final value."""
    a, b = pair
    a.write(collection_name, FIRST)
    original = a.store._read_version

    def slow_read(name: str) -> str:
        if name == collection_name and not getattr(slow_read, "done", False):
            slow_read.done = True  # type: ignore[attr-defined]
            b.write(collection_name, SECOND)
        return original(name)

    a.store._read_version = slow_read  # type: ignore[method-assign]
    a.store.set_collection_metadata(collection_name, {"kb_version": "writer-a"})
    final = _truth(b.store, collection_name)
    assert a.store.collection_version(collection_name) == final
    assert b.store.collection_version(collection_name) == final


def test_deleted_collection_is_never_answered_from_cache(pair: tuple[Instance, Instance], collection_name: str) -> None:
    writer, reader = pair
    _first_answer_cached(writer, reader, collection_name)
    writer.store.delete_collection(collection_name)
    with pytest.raises(CollectionNotFoundError):
        reader.ask(collection_name)
    writer.write(collection_name, SECOND)  # re-created under the same name
    assert _text(reader.ask(collection_name)) == SECOND.decode()


def test_chunk_records_are_shared_through_redis(
    chroma_server: Any, redis: ServerProcess, embedder: Any, collection_name: str
) -> None:
    """Instance B reads the records instance A stored, with one MGET instead of a Chroma read."""
    from knowledgebeast.cache.records import PREFIX as RECORDS
    from knowledgebeast.cache.records import SharedRecords

    def instance() -> QueryService:
        cache = RedisCache.connect("127.0.0.1", redis.port)
        store = ChromaStore.http(
            "127.0.0.1", chroma_server.port, versions=SharedVersions(cache), shared_records=SharedRecords(cache)
        )
        return QueryService(store, embedder, None)

    a, b = instance(), instance()
    IngestService(a.store, embedder, embedder.token_counter).ingest_bytes(
        FIRST + b"\n\n" + SECOND, collection=collection_name, source="release.txt"
    )
    request = QueryRequest(query=QUESTION, collection=collection_name, top_k=3)
    first = a.query(request)
    client = RedisCache.connect("127.0.0.1", redis.port).client
    stored = sorted(client.scan_iter(match=f"{RECORDS}{collection_name}:*"))
    assert stored and len(stored) >= len(first.results)
    hits_before = int(client.info("stats")["keyspace_hits"])
    second = b.query(request)
    assert [r.model_dump() for r in second.results] == [r.model_dump() for r in first.results]
    assert int(client.info("stats")["keyspace_hits"]) - hits_before >= len(stored)
