"""Per-caller rate limiting: RATE_LIMIT_PER_MINUTE requests per minute, shared by every instance.

Who is counted
    An authenticated caller by credential (``api_key:<label>`` or ``jwt:<sub>``); an anonymous
    caller (development mode) and every *failed* authentication by client IP, so guessing API keys
    is throttled as well. The IP is the source address API Gateway saw (Lambda, through Mangum's
    ``aws.event``), else the socket peer (uvicorn: run it with ``--proxy-headers
    --forwarded-allow-ips`` behind a load balancer so the peer is the real client).

Algorithm
    A fixed one-minute window per caller that starts at the caller's first request: one Lua
    script (INCR, set the expiry on the first hit, read the remaining TTL) is one atomic round trip,
    so concurrent Lambda instances can never both see "remaining 1" and both pass. The window
    timing comes from Redis's clock, not from each instance's.

Where the counters live
    Redis when REDIS_HOST is set (shared by all Lambda instances); otherwise in process (local
    mode has one process, so that is exact).

When Redis is down or slow: FAIL OPEN
    The rate limiter protects capacity, it is not a security boundary (authentication is), and
    refusing every request because the cache is down would turn a cache outage into a full API
    outage. So any Redis error (refused, timeout after REDIS_TIMEOUT_SECONDS, auth) falls back to
    an in-process limiter with the same limit: each instance still caps each caller at the limit,
    only the cross-instance sharing is lost. The outage is logged once (not per request) and Redis
    is skipped for ``cooldown`` seconds so a dead Redis costs no latency; the first successful call
    afterwards logs the recovery.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import redis

logger = logging.getLogger(__name__)

WINDOW_SECONDS = 60
KEY_PREFIX = "kb:rl:"

#: INCR, start the window on the first hit, return (count, milliseconds left). A key without an
#: expiry (impossible unless someone wrote it by hand) is repaired rather than blocking forever.
_LUA_HIT = """
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}
"""


@dataclass(frozen=True)
class RateLimitDecision:
    """The outcome of one request against a caller's window, and the headers that describe it."""

    allowed: bool
    limit: int
    remaining: int
    reset_seconds: int

    @property
    def retry_after(self) -> int:
        return max(1, self.reset_seconds)

    def headers(self) -> dict[str, str]:
        """``X-RateLimit-Reset`` is seconds until the window resets (a delta, not an epoch: no clock skew)."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_seconds),
        }


def _decision(limit: int, count: int, seconds_left: float, window: float) -> RateLimitDecision:
    """Seconds to reset are rounded up (never 0) and never exceed the window.

    The clamp is not cosmetic: for a fresh window ``seconds_left`` is ``(now + window) - now``,
    which floating point can round to ``window + 2e-13``; ``ceil`` then gave 61 for a 60 s window
    (roughly one first request in four thousand, depending on the clock's value).
    """
    return RateLimitDecision(
        allowed=count <= limit,
        limit=limit,
        remaining=max(0, limit - count),
        reset_seconds=min(max(1, math.ceil(window)), max(1, math.ceil(seconds_left))),
    )


class RateLimiter(Protocol):
    backend: str
    limit: int
    #: True when ``hit`` does network I/O (run it off the event loop).
    blocking: bool

    def hit(self, identity: str) -> RateLimitDecision: ...


class MemoryRateLimiter:
    """Fixed windows in this process: exact for local mode, the per-instance fallback otherwise.

    Bounded: when more than ``max_identities`` callers are tracked, expired windows are dropped,
    and if that is not enough the windows closest to expiry go first (a flood of spoofed
    identities cannot grow memory without limit).
    """

    backend = "memory"
    blocking = False

    def __init__(
        self,
        limit: int,
        *,
        window: float = WINDOW_SECONDS,
        max_identities: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limit = limit
        self._window = window
        self._max = max_identities
        self._clock = clock
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()

    def hit(self, identity: str) -> RateLimitDecision:
        now = self._clock()
        with self._lock:
            ends, count = self._windows.get(identity, (0.0, 0))
            if ends <= now:
                ends, count = now + self._window, 0
            count += 1
            self._windows[identity] = (ends, count)
            if len(self._windows) > self._max:
                self._prune(now)
        return _decision(self.limit, count, ends - now, self._window)

    def _prune(self, now: float) -> None:
        live = {key: value for key, value in self._windows.items() if value[0] > now}
        if len(live) > self._max:
            keep = sorted(live.items(), key=lambda item: item[1][0], reverse=True)[: self._max // 2]
            live = dict(keep)
        self._windows = live


class RedisRateLimiter:
    """Windows in Redis, shared by every instance; fails open to a :class:`MemoryRateLimiter`."""

    backend = "redis"
    blocking = True

    def __init__(self, client: redis.Redis, limit: int, *, window: int = WINDOW_SECONDS, cooldown: float = 5.0) -> None:
        self.limit = limit
        self._client = client
        self._window_ms = window * 1000
        self._cooldown = cooldown
        self._script = client.register_script(_LUA_HIT)
        self._fallback = MemoryRateLimiter(limit, window=window)
        self._open_until = 0.0
        self._degraded = False
        self._lock = threading.Lock()

    @property
    def degraded(self) -> bool:
        """True while requests are counted in process because Redis failed."""
        return self._degraded

    def hit(self, identity: str) -> RateLimitDecision:
        if time.monotonic() < self._open_until:
            return self._fallback.hit(identity)
        key = KEY_PREFIX + hashlib.sha256(identity.encode()).hexdigest()[:32]
        try:
            count, ttl_ms = self._script(keys=[key], args=[self._window_ms])
        except Exception as exc:  # any Redis failure: fail open to the in-process limiter
            self._failed(exc)
            return self._fallback.hit(identity)
        if self._degraded:
            with self._lock:
                if self._degraded:
                    self._degraded = False
                    logger.info("redis rate limiting restored")
        return _decision(self.limit, int(count), int(ttl_ms) / 1000, self._window_ms / 1000)

    def _failed(self, exc: Exception) -> None:
        with self._lock:
            if not self._degraded:
                logger.warning(
                    "redis unavailable for rate limiting, limiting per instance until it returns",
                    extra={"error": type(exc).__name__},
                )
            self._degraded = True
            self._open_until = time.monotonic() + self._cooldown


def build_rate_limiter(limit: int, redis_client: redis.Redis | None) -> RateLimiter | None:
    """None when ``limit`` is 0 (rate limiting disabled); Redis-backed when a client is given."""
    if limit <= 0:
        return None
    if redis_client is not None:
        return RedisRateLimiter(redis_client, limit)
    return MemoryRateLimiter(limit)


def client_ip(scope: Mapping[str, Any]) -> str:
    """The caller's address for anonymous rate limiting.

    In Lambda, the ``requestContext`` source IP is what API Gateway itself saw (HTTP API v2
    ``http.sourceIp``, REST v1 ``identity.sourceIp``): it cannot be forged by the client. Behind
    another AWS proxy without a request context (ALB), ``X-Forwarded-For``'s LAST entry is the one
    the proxy appended; earlier entries are whatever the client sent, so they are never trusted
    (taking the first would let anyone pick a fresh bucket per request). Outside AWS the socket
    peer is used; uvicorn's ``--proxy-headers`` makes that the client behind a trusted proxy.
    """
    event = scope.get("aws.event")
    if isinstance(event, Mapping):
        context = event.get("requestContext")
        if isinstance(context, Mapping):
            for holder in (context.get("http"), context.get("identity")):
                if isinstance(holder, Mapping) and isinstance(holder.get("sourceIp"), str) and holder["sourceIp"]:
                    return str(holder["sourceIp"])
        hops = [
            hop.strip()
            for name, value in scope.get("headers", [])
            if name == b"x-forwarded-for"
            for hop in value.decode("latin-1").split(",")
            if hop.strip()
        ]
        if hops:
            return hops[-1]
    client = scope.get("client")
    if client:
        return str(client[0])
    return "unknown"
