"""Chunk records (text + metadata) shared by every query instance through Redis.

Why it is safe: chunk ids are content-addressed (knowledgebeast.store.record_cache says why), so
the record behind an id never changes and needs no invalidation; a deleted chunk simply stops
appearing in Chroma's search results, which decide the ids. Why it matters: Chroma answers a
300-candidate search with ids and distances in a few ms but needs ~35 ms more to read their
documents and metadata; one ``MGET`` serves them from Redis for every Lambda instance, not only
for the instance that read them first. Entries expire after ``ttl`` seconds only to bound memory.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from knowledgebeast.store.base import Metadata

if TYPE_CHECKING:
    from knowledgebeast.cache.redis_cache import RedisCache

PREFIX = "kb:r:"
DEFAULT_TTL = 7 * 24 * 3600

Record = tuple[str, Metadata]


class SharedRecords:
    """Redis tier behind the in-process :class:`~knowledgebeast.store.record_cache.RecordCache`."""

    def __init__(self, cache: RedisCache, *, ttl: int = DEFAULT_TTL, namespace: str = "") -> None:
        self._cache = cache
        self._ttl = ttl
        self._prefix = f"{PREFIX}{namespace}:" if namespace else PREFIX

    def _key(self, collection: str, chunk_id: str) -> str:
        return f"{self._prefix}{collection}:{chunk_id}"

    def get_many(self, collection: str, ids: list[str]) -> dict[str, Record]:
        if not ids:
            return {}
        values: list[Any] = self._cache.guarded(lambda c: c.mget([self._key(collection, i) for i in ids]), [])
        found: dict[str, Record] = {}
        for chunk_id, raw in zip(ids, values, strict=False):
            if raw is not None:
                text, metadata = json.loads(raw)
                found[chunk_id] = (text, metadata)
        return found

    def put_many(self, collection: str, records: dict[str, Record]) -> None:
        if records:
            self._cache.guarded(lambda c: self._write(c, collection, records.items()), None)

    def _write(self, client: Any, collection: str, items: Iterable[tuple[str, Record]]) -> None:
        pipe = client.pipeline(transaction=False)
        for chunk_id, record in items:
            pipe.set(self._key(collection, chunk_id), json.dumps(record, separators=(",", ":")), ex=self._ttl)
        pipe.execute()
