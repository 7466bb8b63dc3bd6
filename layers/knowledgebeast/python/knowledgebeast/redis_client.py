"""The one Redis connection recipe (query cache, rate limiter and any other Redis user share it).

Timeouts and retries are tuned for an accelerator that must never slow a request down (see
:mod:`knowledgebeast.cache.redis_cache`). The password is asked of a
:class:`~knowledgebeast.secrets.SecretSource` each time a connection is opened, so a rotated
Redis password is used by the next new connection without a redeploy; established connections
stay authenticated (Redis does not drop them when the password changes).
"""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

from redis.credentials import CredentialProvider

from knowledgebeast.secrets import SecretSource

if TYPE_CHECKING:
    import redis


class SecretCredentialProvider(CredentialProvider):
    """redis-py calls this on every new connection: the current password, read through the TTL cache."""

    def __init__(self, source: SecretSource) -> None:
        self._source = source

    def get_credentials(self) -> tuple[str]:
        return (self._source.get() or "",)

    async def get_credentials_async(self) -> tuple[str]:
        return self.get_credentials()


def _no_client_setinfo() -> dict[str, Any]:
    """No CLIENT SETINFO on connect: one round trip less per new connection (Lambda cold starts), and
    a hung Redis costs one command timeout instead of a handshake timeout plus a command timeout.
    redis-py >= 7 spells it ``driver_info=None``; older versions ``lib_name``/``lib_version``."""
    import redis

    if "driver_info" in inspect.signature(redis.Redis.__init__).parameters:
        return {"driver_info": None}
    return {"lib_name": None, "lib_version": None}


def connect_redis(
    host: str,
    port: int,
    *,
    db: int = 0,
    password: str | SecretSource | None = None,
    ssl: bool = False,
    timeout: float = 0.25,
    pool_size: int = 10,
) -> redis.Redis:
    """A pooled client; nothing is sent until the first command (connecting is lazy)."""
    import redis
    from redis.backoff import NoBackoff
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.retry import Retry

    source = password if isinstance(password, SecretSource) else SecretSource(literal=password or None)
    return redis.Redis(
        host=host,
        port=port,
        db=db,
        credential_provider=SecretCredentialProvider(source) if source.configured else None,
        ssl=ssl,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        max_connections=pool_size,
        health_check_interval=30,
        # redis-py's default (3 retries, exponential backoff from 1 s, timeouts included) made one
        # call to a dead or hung Redis take seconds before the breaker opened. One immediate retry
        # on a connection error still heals a stale pooled connection after a Redis restart; a
        # timeout is not retried (a hung Redis would only cost the timeout twice).
        retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        **_no_client_setinfo(),
    )
