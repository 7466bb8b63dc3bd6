"""Redis-backed cache shared by every Lambda instance.

Redis is an accelerator, never a dependency: any Redis error (down, slow, auth) is logged once per
outage, counted as a miss, and Redis is skipped for ``cooldown`` seconds so a dead cache costs no
latency on every query (a simple circuit breaker).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from knowledgebeast.cache.base import QUERY_KEY_PREFIX

if TYPE_CHECKING:
    import redis

T = TypeVar("T")

logger = logging.getLogger(__name__)


class RedisCache:
    backend = "redis"

    def __init__(self, client: redis.Redis, *, cooldown: float = 5.0) -> None:
        self._client = client
        self._cooldown = cooldown
        self._open_until = 0.0

    @classmethod
    def connect(cls, host: str, port: int, **kwargs: Any) -> RedisCache:
        """A cache on its own client (tests, tools); services share one client via the factory."""
        from knowledgebeast.redis_client import connect_redis

        return cls(connect_redis(host, port, **kwargs))

    @property
    def client(self) -> redis.Redis:
        return self._client

    def available(self) -> bool:
        return time.monotonic() >= self._open_until

    def _failed(self, exc: Exception) -> None:
        if self.available():
            logger.warning("redis unavailable, continuing uncached", extra={"error": type(exc).__name__})
        self._open_until = time.monotonic() + self._cooldown

    def guarded(self, action: Callable[[redis.Redis], T], default: T) -> T:
        """``action(client)`` behind this cache's circuit breaker: ``default`` when Redis is skipped or
        fails. The shared record and version caches use it, so one outage opens one breaker for
        every Redis use on the query path (one timeout, then no Redis round trip at all)."""
        if not self.available():
            return default
        try:
            return action(self._client)
        except Exception as exc:  # any redis failure degrades to the default
            self._failed(exc)
            return default

    def get(self, key: str) -> bytes | None:
        if not self.available():
            return None
        try:
            value = self._client.get(key)
        except Exception as exc:  # any redis failure is a miss
            self._failed(exc)
            return None
        return value if isinstance(value, bytes) else None

    def set(self, key: str, value: bytes, ttl: int) -> None:
        if ttl <= 0 or not self.available():
            return
        try:
            self._client.set(key, value, ex=ttl)
        except Exception as exc:
            self._failed(exc)

    def clear(self) -> int:
        removed = 0
        try:
            for key in self._client.scan_iter(match=QUERY_KEY_PREFIX + "*", count=500):
                removed += int(self._client.delete(key))
        except Exception as exc:
            self._failed(exc)
        return removed

    def ping(self) -> bool:
        try:
            return bool(self._client.ping())
        except Exception as exc:
            self._failed(exc)
            return False
