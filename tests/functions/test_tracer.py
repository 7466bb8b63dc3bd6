"""Powertools Tracer (X-Ray) wiring: off by default, wraps the handler and the stage spans when on."""

from __future__ import annotations

from typing import Any

from knowledgebeast.aws.runtime import _XRaySpans, traced
from knowledgebeast.observability import tracing


def _handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    with tracing.span("query.embed"):
        return {"ok": event["n"]}


def test_disabled_returns_the_same_handler() -> None:
    assert traced(_handler, service="kb", enabled=False) is _handler


def test_enabled_wraps_handler_and_routes_spans_to_subsegments(monkeypatch: Any) -> None:
    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")  # no X-Ray daemon here: segments are no-ops
    try:
        wrapped = traced(_handler, service="kb", enabled=True)
        assert wrapped is not _handler
        assert isinstance(tracing._tracer, _XRaySpans)

        class Context:
            function_name = "kb"
            aws_request_id = "r1"

        assert wrapped({"n": 3}, Context()) == {"ok": 3}
    finally:
        tracing.set_tracer(None)
