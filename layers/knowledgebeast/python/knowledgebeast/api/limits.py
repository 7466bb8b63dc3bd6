"""Bounded execution of blocking work: MAX_CONCURRENT_QUERIES and QUERY_TIMEOUT.

A request that cannot get a slot within a short wait is refused with 503 (Retry-After), and one
that runs past the timeout is answered with 504; neither ever hangs the caller.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import anyio
from fastapi import Request

from knowledgebeast.errors import QueryTimeoutError, ServiceUnavailableError

T = TypeVar("T")
A = TypeVar("A")
SLOT_WAIT_SECONDS = 1.0


async def run_bounded(request: Request, function: Callable[[A], T], argument: A) -> T:
    limiter: anyio.CapacityLimiter = request.app.state.query_limiter
    timeout: float = request.app.state.services.settings.query_timeout
    try:
        with anyio.fail_after(SLOT_WAIT_SECONDS):
            await limiter.acquire()
    except TimeoutError:
        raise ServiceUnavailableError("too many concurrent queries, retry shortly", retry_after=1) from None
    try:
        with anyio.fail_after(timeout):
            return await anyio.to_thread.run_sync(function, argument, abandon_on_cancel=True)
    except TimeoutError:
        raise QueryTimeoutError(f"query did not finish within {timeout:g} s") from None
    finally:
        limiter.release()
