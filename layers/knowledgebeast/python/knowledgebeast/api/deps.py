"""Dependency shortcuts so a route's signature shows everything it uses."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from knowledgebeast.config import Settings
from knowledgebeast.errors import AuthenticationError, RateLimitedError, UnsupportedMediaTypeError
from knowledgebeast.factory import Services
from knowledgebeast.ingest import IngestService
from knowledgebeast.query import QueryService
from knowledgebeast.registry import DocumentRegistry
from knowledgebeast.security.auth import Authenticator
from knowledgebeast.security.principal import Principal
from knowledgebeast.security.ratelimit import WINDOW_SECONDS, RateLimiter, client_ip
from knowledgebeast.store.base import VectorStoreProtocol


def _services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


# The dependencies are ``async`` because they never block: FastAPI runs a sync dependency in a worker
# thread, and under Mangum every such hop cost a thread start per request (the profile in
# docs/benchmarks.md: ~12 hops and ~1-2 ms per query before this).
async def get_services(request: Request) -> Services:
    return _services(request)


async def get_settings(request: Request) -> Settings:
    return _services(request).settings


async def get_query_service(request: Request) -> QueryService:
    return await _built(_services(request), "query_service")


async def get_store(request: Request) -> VectorStoreProtocol:
    return await _built(_services(request), "store")


async def get_registry(request: Request) -> DocumentRegistry:
    return await _built(_services(request), "registry")


async def get_ingest_service(request: Request) -> IngestService:
    return await _built(_services(request), "ingest_service")


async def _built(services: Services, name: str) -> Any:
    """A service, built in a worker thread the first time (it may load the model): never on the loop."""
    if name in services.__dict__:
        return services.__dict__[name]
    return await anyio.to_thread.run_sync(getattr, services, name)


async def require_json(request: Request) -> None:
    """415 for a body that is not JSON (instead of a confusing validation error)."""
    content_type = request.headers.get("content-type", "")
    if content_type and not content_type.split(";")[0].strip().lower().endswith(("/json", "+json")):
        raise UnsupportedMediaTypeError(f"expected application/json, got {content_type.split(';')[0]!r}")


JsonBody = Annotated[None, Depends(require_json)]
ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
QueryServiceDep = Annotated[QueryService, Depends(get_query_service)]
IngestServiceDep = Annotated[IngestService, Depends(get_ingest_service)]
StoreDep = Annotated[VectorStoreProtocol, Depends(get_store)]
RegistryDep = Annotated[DocumentRegistry, Depends(get_registry)]


#: Declared so OpenAPI lists both credentials and /docs offers an Authorize button. Reading the headers
#: stays with the Authenticator (auto_error=False: these never reject a request themselves).
API_KEY_HEADER = APIKeyHeader(
    name="X-API-Key",
    scheme_name="ApiKey",
    description="An API key from API_KEY (or the API keys secret). Either this or a bearer JWT.",
    auto_error=False,
)
BEARER_JWT = HTTPBearer(
    scheme_name="BearerJWT",
    bearerFormat="JWT",
    description="An HS256 JWT signed with JWT_SECRET (claims: sub, exp, iat; scope; optional collections).",
    auto_error=False,
)
ApiKeyCredential = Annotated[str | None, Security(API_KEY_HEADER)]
BearerCredential = Annotated[HTTPAuthorizationCredentials | None, Security(BEARER_JWT)]


def _scope_dependency(scope: str) -> Callable[..., Awaitable[Principal]]:
    async def require(request: Request, _key: ApiKeyCredential = None, _jwt: BearerCredential = None) -> Principal:
        return await authorize(request, scope)

    return require


async def authorize(request: Request, scope: str) -> Principal:
    """Authenticate, count the request against the caller's rate limit, then check the scope.

    The order matters: the limit is charged to the authenticated identity (one tenant cannot spend
    another's quota by sending its key id), a failed authentication is charged to the client IP
    (so guessing keys is throttled too, and turns into 429 once the IP's quota is spent), and a
    known caller lacking the scope still spends quota (403s are not free to hammer).
    """
    authenticator: Authenticator = _services(request).authenticator
    limiter: RateLimiter | None = _services(request).rate_limiter
    try:
        principal = authenticator.identify_request(request)
    except AuthenticationError:
        if limiter is not None:
            await _charge(request, limiter, "ip:" + client_ip(request.scope))
        raise
    if limiter is not None:
        await _charge(request, limiter, principal.rate_limit_key or "ip:" + client_ip(request.scope))
    principal.require_scope(scope)
    request.state.principal = principal
    return principal


async def _charge(request: Request, limiter: RateLimiter, identity: str) -> None:
    decision = await anyio.to_thread.run_sync(limiter.hit, identity) if limiter.blocking else limiter.hit(identity)
    # The access middleware turns this into X-RateLimit-* headers on whatever response follows.
    request.state.rate_limit = decision
    if not decision.allowed:
        raise RateLimitedError(
            f"rate limit of {decision.limit} requests per minute exceeded, retry in {decision.retry_after} s",
            retry_after=decision.retry_after,
            details={"limit": decision.limit, "window_seconds": WINDOW_SECONDS},
        )


async def require_metrics_access(request: Request) -> None:
    """/metrics needs the admin scope in staging/production unless METRICS_PUBLIC=true; open in
    development/test unless METRICS_PUBLIC=false (``Settings.metrics_open``).

    Not rate limited, like health and docs: a scraper must never be throttled into blind spots.
    """
    if _services(request).settings.metrics_open:
        return
    authenticator: Authenticator = _services(request).authenticator
    principal = await authenticator.authenticate(request, "admin")
    principal.require_unrestricted()  # metrics describe every tenant's traffic


QueryPrincipal = Annotated[Principal, Depends(_scope_dependency("query"))]
IngestPrincipal = Annotated[Principal, Depends(_scope_dependency("ingest"))]
AdminPrincipal = Annotated[Principal, Depends(_scope_dependency("admin"))]
MetricsAccess = Annotated[None, Depends(require_metrics_access)]
