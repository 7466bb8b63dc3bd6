"""Cache contract and the query cache key.

The key holds the collection's write version (bumped on every ingest and delete), so an answer
computed before a write can never be served after it: no invalidation messages needed, and stale
entries simply age out by TTL/LRU.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from typing import Any, Protocol

#: Every query-cache key starts with this (``clear`` deletes exactly these keys from a shared Redis).
QUERY_KEY_PREFIX = "kb:q:"


class CacheProtocol(Protocol):
    backend: str

    def get(self, key: str) -> bytes | None: ...

    def set(self, key: str, value: bytes, ttl: int) -> None: ...

    def clear(self) -> int: ...

    def ping(self) -> bool: ...


def normalize_query(text: str) -> str:
    """Case, Unicode form and whitespace do not change the answer, so they do not change the key."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def query_cache_key(*, collection: str, version: str, query: str, params: dict[str, Any]) -> str:
    payload = json.dumps(
        {"c": collection, "v": version, "q": normalize_query(query), "p": params},
        sort_keys=True,
        separators=(",", ":"),
        default=str,
    )
    return QUERY_KEY_PREFIX + hashlib.sha256(payload.encode()).hexdigest()
