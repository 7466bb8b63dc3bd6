"""OpenTelemetry spans around the query stages, free when tracing is not configured.

The OpenTelemetry SDK is optional (not in the Lambda layer): without it, or without an
``OTEL_EXPORTER_OTLP_ENDPOINT``, :func:`span` is a no-op context manager and the query path pays
nothing. Sampling comes from ``OTEL_SAMPLE_RATE`` (default 0: off).
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


def configure_tracing(endpoint: str | None, sample_rate: float, *, exporter: Any = None) -> bool:
    """Set up an OTLP (or given) exporter; returns False when tracing stays off."""
    if (endpoint is None and exporter is None) or sample_rate <= 0:
        set_tracer(None)
        return False
    try:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
    except ImportError:
        return False
    provider = TracerProvider(
        resource=Resource.create({"service.name": "knowledgebeast"}),
        sampler=ParentBased(TraceIdRatioBased(sample_rate)),
    )
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces")))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    set_tracer(provider.get_tracer("knowledgebeast"))
    return True


@contextmanager
def span(name: str) -> Iterator[None]:
    if _tracer is None:
        yield
        return
    with _tracer.start_as_current_span(name):
        yield
