"""Dependency shortcuts so a route's signature shows everything it uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from knowledgebeast.config import Settings
from knowledgebeast.errors import UnsupportedMediaTypeError
from knowledgebeast.factory import Services
from knowledgebeast.ingest import IngestService
from knowledgebeast.query import QueryService
from knowledgebeast.security.principal import Principal


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_settings(request: Request) -> Settings:
    return get_services(request).settings


def get_query_service(request: Request) -> QueryService:
    return get_services(request).query_service


def get_ingest_service(request: Request) -> IngestService:
    return get_services(request).ingest_service


def require_json(request: Request) -> None:
    """415 for a body that is not JSON (instead of a confusing validation error)."""
    content_type = request.headers.get("content-type", "")
    if content_type and not content_type.split(";")[0].strip().lower().endswith(("/json", "+json")):
        raise UnsupportedMediaTypeError(f"expected application/json, got {content_type.split(';')[0]!r}")


JsonBody = Annotated[None, Depends(require_json)]
ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
QueryServiceDep = Annotated[QueryService, Depends(get_query_service)]
IngestServiceDep = Annotated[IngestService, Depends(get_ingest_service)]


def _scope_dependency(scope: str):  # type: ignore[no-untyped-def]
    async def require(request: Request) -> Principal:
        authenticator = request.app.state.authenticator
        principal: Principal = await authenticator.authenticate(request, scope)
        request.state.principal = principal
        return principal

    return require


QueryPrincipal = Annotated[Principal, Depends(_scope_dependency("query"))]
IngestPrincipal = Annotated[Principal, Depends(_scope_dependency("ingest"))]
AdminPrincipal = Annotated[Principal, Depends(_scope_dependency("admin"))]
