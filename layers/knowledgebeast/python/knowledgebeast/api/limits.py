"""Bounded execution of blocking work: MAX_CONCURRENT_QUERIES and QUERY_TIMEOUT.

A request that cannot get a slot within a short wait is refused with 503 (Retry-After), and one
that runs past the timeout is answered with 504; neither ever hangs the caller.

A slot is held for as long as the work actually runs, not for as long as the caller waits: a
thread cannot be killed, so a query abandoned at QUERY_TIMEOUT keeps its worker thread busy until
the store or the model returns. Releasing its slot at the timeout would let a slow dependency
pile up unbounded abandoned work (every retry starting another thread) until the shared thread
pool starves health checks and ingests alike. The worker releases the slot itself when it ends.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, TypeVar

import anyio
from fastapi import Request

from knowledgebeast.errors import QueryTimeoutError, ServiceUnavailableError

T = TypeVar("T")
A = TypeVar("A")
SLOT_WAIT_SECONDS = 1.0
_POLL_SECONDS = 0.01


class QuerySlots:
    """A counting semaphore that the event loop acquires and a worker thread may release."""

    def __init__(self, total: int) -> None:
        self.total = total
        self._in_use = 0
        self._lock = threading.Lock()
        # Worker threads that outlive a request: anyio's pool stops its threads when the root task
        # ends, which under Mangum (one root task per invocation) meant a thread start per query.
        self.executor = ThreadPoolExecutor(max_workers=max(1, total), thread_name_prefix="kb-query")

    @property
    def in_use(self) -> int:
        return self._in_use

    def try_acquire(self) -> bool:
        with self._lock:
            if self._in_use >= self.total:
                return False
            self._in_use += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._in_use = max(0, self._in_use - 1)

    async def acquire(self, wait: float) -> bool:
        """Poll for a slot for at most ``wait`` seconds (only ever waits when the API is saturated)."""
        with anyio.move_on_after(wait):
            while not self.try_acquire():
                await anyio.sleep(_POLL_SECONDS)
            return True
        return False


class _Run:
    """Who releases the slot: the worker when it ran, the caller when the worker never started."""

    def __init__(self, slots: QuerySlots) -> None:
        self.slots = slots
        self.state: Literal["pending", "running", "abandoned"] = "pending"
        self.lock = threading.Lock()

    def start(self) -> bool:
        with self.lock:
            if self.state == "abandoned":
                return False
            self.state = "running"
            return True

    def abandon(self) -> None:
        with self.lock:
            if self.state == "pending":  # never started: nobody else will release the slot
                self.state = "abandoned"
                self.slots.release()


async def run_bounded(request: Request, function: Callable[[A], T], argument: A) -> T:
    slots: QuerySlots = request.app.state.query_limiter
    timeout: float = request.app.state.services.settings.query_timeout
    if not await slots.acquire(SLOT_WAIT_SECONDS):
        raise ServiceUnavailableError("too many concurrent queries, retry shortly", retry_after=1)
    run = _Run(slots)

    def work(value: A) -> T:
        if not run.start():
            raise QueryTimeoutError("query abandoned before it started")
        try:
            return function(value)
        finally:
            slots.release()

    try:
        with anyio.fail_after(timeout):
            # cancelling this await (timeout, disconnect) leaves a running worker to finish on its own
            return await asyncio.get_running_loop().run_in_executor(slots.executor, work, argument)
    except TimeoutError:
        run.abandon()
        raise QueryTimeoutError(f"query did not finish within {timeout:g} s") from None
    except BaseException:
        run.abandon()  # e.g. the client disconnected while the work was still queued
        raise
