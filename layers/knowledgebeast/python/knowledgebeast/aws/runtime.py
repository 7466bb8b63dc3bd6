"""What every KnowledgeBeast Lambda does once per container, during the init phase.

- Logs: one Powertools JSON logger per function; its handler is copied onto the package's
  ``knowledgebeast`` logger so the package's own log lines (ingest outcomes, access log) come out
  as the same JSON with the same correlation id, instead of Lambda's plain-text default.
- Metrics: the package's metric observations are also printed as CloudWatch EMF.
- Warm-up: the model, the store client and the cache client are built at init (once per
  container, with the init phase's CPU burst) rather than inside the first request. A store that
  is unreachable at init is logged and retried on first use instead of failing the init, which
  Lambda would otherwise repeat on every invocation without serving a request.
- Serverless limits: ingest must finish inside Lambda's 15 minutes (see layers/README.md), so
  the document-size limit is capped for the ingest function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from aws_lambda_powertools import Logger
from aws_lambda_powertools.logging.utils import copy_config_to_registered_loggers

from knowledgebeast.config import Settings
from knowledgebeast.errors import KnowledgeBeastError
from knowledgebeast.factory import Services

logger = logging.getLogger(__name__)
Handler = TypeVar("Handler", bound=Callable[..., Any])

#: Largest extracted text (characters) the ingest function accepts, so that one document always
#: finishes inside one invocation (no continuation messages). Measured on a 300-page PDF through the
#: handler (tests/functions/test_large_documents.py): 11,000-12,000 characters per CPU-second for
#: parse, semantic chunking, fp32 embedding and upsert, and wall time ~ CPU time on 2 cores. 2 M
#: characters (500-700 dense pages) therefore take ~160-180 s: within the stack's default 300 s
#: ingest timeout and a fifth of Lambda's 900 s maximum.
SERVERLESS_MAX_DOCUMENT_CHARS = 2_000_000


def lambda_logger(service: str, level: str = "INFO") -> Logger:
    """A Powertools JSON logger whose handler the ``knowledgebeast`` package loggers share."""
    from knowledgebeast.observability.emf import enable_emf

    powertools_logger = Logger(service=service, level=level.upper())
    logging.getLogger("knowledgebeast")  # make sure the package logger is registered before copying
    copy_config_to_registered_loggers(source_logger=powertools_logger, include={"knowledgebeast"})
    enable_emf()
    return powertools_logger


def warm(services: Services, *components: str) -> None:
    """Build ``components`` (``Services`` attribute names) now; a failure is retried on first use."""
    for name in components:
        try:
            getattr(services, name)
        except KnowledgeBeastError as exc:
            logger.warning(
                "cold start: component not ready, will retry on first use",
                extra={"component": name, "error": exc.code, "reason": exc.message},
            )


def serverless_ingest_settings(settings: Settings) -> Settings:
    """``settings`` with the document-size limit capped so one document fits in one invocation."""
    if settings.max_document_chars <= SERVERLESS_MAX_DOCUMENT_CHARS:
        return settings
    return settings.model_copy(update={"max_document_chars": SERVERLESS_MAX_DOCUMENT_CHARS})


class _XRaySpans:
    """Adapter so the package's stage spans (embed/search/lexical/rerank) become X-Ray subsegments."""

    def __init__(self, tracer: Any) -> None:
        self._tracer = tracer

    def start_as_current_span(self, name: str) -> Any:
        return self._tracer.provider.in_subsegment(name)


def traced(handler: Handler, *, service: str, enabled: bool) -> Handler:
    """Wrap ``handler`` with Powertools Tracer (X-Ray) when POWERTOOLS_TRACER_ENABLED is true.

    Off by default: initialising the Tracer (aws-xray-sdk) measured ~0.64 s of extra cold start
    on this machine (median of 3 fresh processes), for every container.
    """
    if not enabled:
        return handler
    from aws_lambda_powertools import Tracer

    from knowledgebeast.observability.tracing import set_tracer

    tracer = Tracer(service=service)
    set_tracer(_XRaySpans(tracer))
    return cast(Handler, tracer.capture_lambda_handler(handler))
