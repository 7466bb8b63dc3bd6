"""Builds the FastAPI app: the same object runs under uvicorn and under Mangum in Lambda."""

from __future__ import annotations

import logging

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.middleware.trustedhost import TrustedHostMiddleware

from knowledgebeast import __version__
from knowledgebeast.api.errors import install_error_handlers
from knowledgebeast.api.limits import QuerySlots
from knowledgebeast.api.middleware import RequestContextMiddleware
from knowledgebeast.api.routes import collections, documents, health, page, query
from knowledgebeast.config import Settings, get_settings
from knowledgebeast.errors import ConfigurationError
from knowledgebeast.factory import Services, build_services
from knowledgebeast.observability.tracing import configure_tracing

logger = logging.getLogger(__name__)

DESCRIPTION = """Retrieval over your documents for RAG: hybrid lexical + dense search with citations.

All errors share one shape: `{"error": {"code", "message", "request_id", "details"}}`.
Authenticate with `X-API-Key` or `Authorization: Bearer <JWT>` (unless running in development mode).
"""


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or (services.settings if services else get_settings())
    settings.require_safe_for_environment()
    services = services or build_services(settings)
    configure_tracing(settings.otel_exporter_otlp_endpoint, settings.otel_sample_rate)
    authenticator = services.authenticator
    if authenticator.open and settings.app_env in ("production", "staging"):
        # Settings were non-empty but yielded no usable credential (API_KEY=",", an empty secret).
        raise ConfigurationError(
            f"APP_ENV={settings.app_env} requires authentication, but API_KEY / JWT_SECRET (or their "
            "*_SECRET_ARN) contain no usable key. Refusing to start an open API."
        )
    if authenticator.open:
        logger.warning("authentication is DISABLED (APP_ENV=%s): do not expose this server", settings.app_env)
    app = FastAPI(
        title="KnowledgeBeast",
        version=__version__,
        description=DESCRIPTION,
        docs_url="/docs" if settings.docs_public else None,
        redoc_url=None,
        openapi_url="/openapi.json" if settings.docs_public else None,
    )
    app.state.services = services
    app.state.query_limiter = QuerySlots(settings.max_concurrent_queries)
    # Built by the factory; exposed here too for operators and tests that inspect a running app.
    app.state.authenticator = authenticator
    app.state.rate_limiter = services.rate_limiter
    install_error_handlers(app)
    for router in (query.router, documents.router, collections.router, health.router):
        app.include_router(router)
    app.include_router(page.router)  # the search page at / (no credentials; the API calls it makes send them)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Content-Type", "X-API-Key", "Authorization", "X-Request-ID"],
            expose_headers=[
                "X-Request-ID",
                "Retry-After",
                "X-RateLimit-Limit",
                "X-RateLimit-Remaining",
                "X-RateLimit-Reset",
            ],
        )
    if settings.allowed_hosts and settings.allowed_hosts != ["*"]:
        app.add_middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts)
    app.add_middleware(RequestContextMiddleware, max_body_bytes=settings.max_upload_bytes + 64 * 1024)
    return app
