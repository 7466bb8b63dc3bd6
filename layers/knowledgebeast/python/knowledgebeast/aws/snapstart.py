"""Lambda SnapStart for the query function: heavy work in the snapshot, connections after restore.

With SnapStart the init phase runs once, when a version is published; Lambda snapshots the
memory and starts every later execution environment from that snapshot. So everything slow and
immutable belongs to init (imports, the app, the ONNX session and its first run, the stemmer,
one request through the app), and everything tied to time or to the outside world must be
redone after each restore, because many environments wake from one snapshot:

* network connections (Redis, Chroma): sockets in the snapshot are dead or shared by every copy;
* secrets (API keys, JWT secret, Redis password, Chroma token): they may have rotated since the
  snapshot was taken, possibly days ago;
* randomness: every copy would continue the same ``random`` sequence.

The runtime runs the hooks registered with ``snapshot_restore_py.register_after_restore`` (the
module is part of the Lambda Python runtime; PyPI ``snapshot-restore-py`` for tests) before the
first invocation of a restored environment. Without that module the functions below are never
registered and nothing changes.
"""

from __future__ import annotations

import logging
import random
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from fastapi import FastAPI

logger = logging.getLogger(__name__)


def prime(app: FastAPI, asgi: Any) -> None:
    """Run the paths the first request would pay for, once, during init.

    The ONNX session's first run allocates its arenas, the stemmer loads, and one request through
    Mangum + FastAPI + middleware builds their lazy state. Done in init it lands in the snapshot
    (SnapStart) or at least before the first user waits (plain cold start: same total).
    """
    from knowledgebeast.lexical import analyze

    services = app.state.services
    services.embedder.embed(["warm up the model"])
    analyze("warm up the stemmer")
    event = {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/health/live",
        "rawQueryString": "",
        "headers": {"host": "localhost"},
        "requestContext": {"http": {"method": "GET", "path": "/health/live", "sourceIp": "127.0.0.1"}},
        "isBase64Encoded": False,
    }
    try:
        asgi(event, None)
    except Exception as exc:  # priming is an optimisation: never fail the init for it
        logger.warning("priming request failed", extra={"error": type(exc).__name__})


def refresh_after_restore(app: FastAPI) -> None:
    """Fresh secrets, Redis and Chroma clients and random state; the model and app are kept."""
    from aws_lambda_powertools.utilities.parameters import clear_caches

    from knowledgebeast.aws.runtime import warm
    from knowledgebeast.factory import Services

    random.seed()  # os.urandom-seeded: no two restored copies share a sequence
    clear_caches()  # secrets are read again: a rotation during the snapshot's life is picked up
    old: Services = app.state.services
    fresh = Services(old.settings)
    for kept in ("embedder", "reranker"):  # immutable and expensive: exactly what the snapshot is for
        if kept in old.__dict__:
            fresh.__dict__[kept] = old.__dict__[kept]
    app.state.services = fresh
    app.state.authenticator = fresh.authenticator  # built by the factory, as at init
    app.state.rate_limiter = fresh.rate_limiter
    warm(fresh, "query_service")  # connects to Chroma and Redis now, not inside the first request
    _close_old_redis(old)


def _close_old_redis(old: Any) -> None:
    client = old.__dict__.get("redis")  # the process's one Redis client (cache and rate limiter)
    if client is not None:
        try:
            client.connection_pool.disconnect()
        except Exception:  # a dead socket from the snapshot: nothing to close cleanly
            logger.debug("old redis pool already gone")


def register_restore_hooks(app: FastAPI) -> bool:
    """Register :func:`refresh_after_restore` with the runtime; False where SnapStart is absent."""
    try:
        from snapshot_restore_py import register_after_restore
    except ImportError:
        return False
    register_after_restore(refresh_after_restore, app)
    return True
