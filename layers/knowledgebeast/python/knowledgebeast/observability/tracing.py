"""OpenTelemetry spans around the query stages, free when tracing is not configured.

The OpenTelemetry API is imported lazily: without it (Lambda layer) or without a configured
provider, :func:`span` is a no-op context manager, so the query path pays nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

_tracer: Any = None


def set_tracer(tracer: Any) -> None:
    """Install a tracer (``opentelemetry.trace.Tracer``); ``None`` disables spans."""
    global _tracer
    _tracer = tracer


@contextmanager
def span(name: str) -> Iterator[None]:
    if _tracer is None:
        yield
        return
    with _tracer.start_as_current_span(name):
        yield
