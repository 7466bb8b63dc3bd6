"""Lambda metrics: the Prometheus metric names, emitted as CloudWatch EMF.

Installed as a sink of :mod:`knowledgebeast.observability.metrics` by the Lambda handlers, so the
code records each observation once and both worlds get the same names and dimensions.

Inside an invocation wrapped by :func:`flush_metrics_after` observations are buffered and written
once at its end, one EMF document per dimension set with every value of that set (EMF takes up
to 100 values per metric): a query used to print about eight documents through Powertools'
``single_metric``, each built, validated and written on its own (~0.1 ms apiece on the request
path). Outside an invocation (init, the CLI, tests) each observation is written at once.
"""

from __future__ import annotations

import functools
import json
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from knowledgebeast.observability import metrics

NAMESPACE = "KnowledgeBeast"
DEFAULT_DIMENSIONS = {"service": "knowledgebeast"}
MAX_VALUES = 100  # CloudWatch's limit of values per metric in one EMF document
F = TypeVar("F", bound=Callable[..., Any])

DimensionKey = tuple[tuple[str, str], ...]
_buffer: dict[DimensionKey, dict[str, tuple[str, list[float]]]] = {}
_depth = 0


def _document(dimensions: DimensionKey, values: dict[str, tuple[str, list[float]]]) -> str:
    doc: dict[str, Any] = {
        "_aws": {
            "Timestamp": int(time.time() * 1000),
            "CloudWatchMetrics": [
                {
                    "Namespace": NAMESPACE,
                    "Dimensions": [[name for name, _ in dimensions]],
                    "Metrics": [{"Name": name, "Unit": unit} for name, (unit, _) in values.items()],
                }
            ],
        },
        **dict(dimensions),
    }
    for name, (_, numbers) in values.items():
        doc[name] = numbers
    return json.dumps(doc, separators=(",", ":"))


def emf_sink(name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
    """Buffer one observation (inside an invocation) or print its EMF document now."""
    key: DimensionKey = tuple(sorted((dimensions or DEFAULT_DIMENSIONS).items()))
    if _depth == 0:
        sys.stdout.write(_document(key, {name: (unit, [value])}) + "\n")
        return
    unit_values = _buffer.setdefault(key, {}).setdefault(name, (unit, []))
    unit_values[1].append(value)
    if len(unit_values[1]) >= MAX_VALUES:
        flush()


def flush() -> None:
    """Write every buffered observation: one line per dimension set, one write call."""
    if not _buffer:
        return
    lines = [_document(key, values) for key, values in _buffer.items()]
    _buffer.clear()
    sys.stdout.write("\n".join(lines) + "\n")


def flush_metrics_after(handler: F) -> F:
    """Buffer the metrics of each invocation of ``handler`` and flush them when it returns or raises."""

    @functools.wraps(handler)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        global _depth
        _depth += 1
        try:
            return handler(*args, **kwargs)
        finally:
            _depth -= 1
            if _depth == 0:
                flush()

    return wrapper  # type: ignore[return-value]


def enable_emf() -> None:
    """Idempotently route metric observations to EMF as well (call once per Lambda container)."""
    if emf_sink not in metrics._sinks:
        metrics.add_sink(emf_sink)
