"""Lambda metrics: the Prometheus metric names, emitted as CloudWatch EMF via Powertools.

Installed as a sink of :mod:`knowledgebeast.observability.metrics` by the Lambda handlers, so the
code records each observation once and both worlds get the same names and dimensions.
"""

from __future__ import annotations

from aws_lambda_powertools.metrics import MetricUnit, single_metric

from knowledgebeast.observability import metrics

NAMESPACE = "KnowledgeBeast"
_UNITS = {"Count": MetricUnit.Count, "Seconds": MetricUnit.Seconds}


def emf_sink(name: str, value: float, unit: str, dimensions: dict[str, str]) -> None:
    """Print one EMF document for one observation (CloudWatch extracts it from the log line)."""
    with single_metric(
        name=name,
        unit=_UNITS.get(unit, MetricUnit.NoUnit),
        value=value,
        namespace=NAMESPACE,
        default_dimensions=dimensions or {"service": "knowledgebeast"},
    ):
        pass


def enable_emf() -> None:
    """Idempotently route metric observations to EMF as well (call once per Lambda container)."""
    if emf_sink not in metrics._sinks:
        metrics.add_sink(emf_sink)
