"""Health, readiness, liveness, cache clearing and Prometheus metrics."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import anyio
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from knowledgebeast import __version__
from knowledgebeast.api.deps import AdminPrincipal, MetricsAccess, ServicesDep
from knowledgebeast.api.errors import ErrorResponse, error_responses
from knowledgebeast.api.routing import StrictJSONRoute

router = APIRouter(tags=["health"], route_class=StrictJSONRoute)


class HealthOut(BaseModel):
    """The process is up; what it is."""

    status: str = Field(..., description="Always `healthy` while the process answers.", examples=["healthy"])
    version: str = Field(..., description="KnowledgeBeast version.", examples=["0.1.0"])
    timestamp: str = Field(..., description="Server time (ISO 8601, UTC).", examples=["2026-12-02T05:40:00+00:00"])
    environment: str = Field(..., description="APP_ENV of this deployment.", examples=["production"])
    auth: str | None = Field(
        None, description="Present only when authentication is off (development mode).", examples=[None]
    )


class ReadyOut(BaseModel):
    """Whether the dependencies needed to answer queries are reachable."""

    status: str = Field(..., description="`ready` or `not_ready`.", examples=["ready"])
    checks: dict[str, Any] = Field(
        ...,
        description="One entry per dependency (store, cache, reranker, embedder) with its `status`.",
        examples=[
            {
                "store": {"status": "ok", "mode": "http"},
                "cache": {"status": "ok", "backend": "redis"},
                "reranker": {"status": "disabled"},
                "embedder": {"status": "ok"},
            }
        ],
    )


class ClearedOut(BaseModel):
    """Result of clearing the query cache."""

    cleared: int = Field(..., description="Cached answers removed.", examples=[42])


#: Probes take no input, so only framework-level errors can happen (Host check, oversized body).
_PROBE_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Host header not in ALLOWED_HOSTS"},
    413: {"model": ErrorResponse, "description": "Request body too large"},
}


@router.get(
    "/health",
    summary="Service health",
    response_model=HealthOut,
    response_model_exclude_none=True,
    responses=_PROBE_ERRORS,
)
async def health(services: ServicesDep, request: Request) -> dict[str, Any]:
    """Always 200 while the process runs; says whether authentication is off (development mode)."""
    body: dict[str, Any] = {
        "status": "healthy",
        "version": __version__,
        "timestamp": datetime.now(UTC).isoformat(),
        "environment": services.settings.app_env,
    }
    if services.authenticator.open:
        body["auth"] = "disabled (development mode)"
    return body


@router.get("/health/live", summary="Liveness probe", responses=_PROBE_ERRORS)
async def live() -> dict[str, str]:
    """The process is up."""
    return {"status": "alive"}


def _checks(services: Any) -> tuple[bool, dict[str, Any]]:
    checks: dict[str, Any] = {}
    ready = True
    try:
        services.store.heartbeat()
        checks["store"] = {"status": "ok", "mode": "embedded" if services.settings.embedded_store else "http"}
    except Exception as exc:
        checks["store"] = {"status": "down", "error": type(exc).__name__}
        ready = False
    cache = services.cache
    if cache is None:
        checks["cache"] = {"status": "disabled"}
    else:
        checks["cache"] = {"status": "ok" if cache.ping() else "degraded", "backend": cache.backend}
    checks["reranker"] = {"status": "ok" if services.settings.rerank_model_dir else "disabled"}
    try:
        services.embedder  # noqa: B018 - loading the model is the check
        checks["embedder"] = {"status": "ok"}
    except Exception as exc:
        checks["embedder"] = {"status": "down", "error": type(exc).__name__}
        ready = False
    return ready, checks


@router.get(
    "/health/ready",
    summary="Readiness probe",
    response_model=ReadyOut,
    responses={503: {"model": ReadyOut, "description": "The store or the model is unavailable"}, **_PROBE_ERRORS},
)
async def ready(services: ServicesDep) -> JSONResponse:
    """503 when the store or the model is unavailable; a down cache only degrades (queries run uncached)."""
    is_ready, checks = await anyio.to_thread.run_sync(_checks, services)
    return JSONResponse(
        {"status": "ready" if is_ready else "not_ready", "checks": checks}, status_code=200 if is_ready else 503
    )


@router.post(
    "/api/v1/cache/clear",
    summary="Clear the query cache",
    tags=["cache"],
    response_model=ClearedOut,
    responses=error_responses(),
)
async def clear_cache(principal: AdminPrincipal, services: ServicesDep) -> ClearedOut:
    """Drop every cached answer (admin scope, not restricted to collections: the cache is shared)."""
    principal.require_unrestricted()
    removed = await anyio.to_thread.run_sync(services.cache.clear) if services.cache is not None else 0
    return ClearedOut(cleared=removed)


@router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
async def prometheus_metrics(_access: MetricsAccess) -> Response:
    """Prometheus exposition of every counter and histogram (summed over all workers when WORKERS > 1).

    Admin scope in staging/production, open in development/test; METRICS_PUBLIC overrides both.
    Route templates and counts only: no document text, query or credential ever becomes a label.
    """
    from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

    from knowledgebeast.observability.multiprocess import registry

    return Response(generate_latest(registry()), media_type=CONTENT_TYPE_LATEST)
