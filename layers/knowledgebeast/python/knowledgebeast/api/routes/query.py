"""POST /api/v1/query."""

from __future__ import annotations

from fastapi import APIRouter, Request

from knowledgebeast.api.deps import JsonBody, QueryPrincipal, QueryServiceDep, SettingsDep
from knowledgebeast.api.errors import error_responses
from knowledgebeast.api.limits import run_bounded
from knowledgebeast.api.routing import StrictJSONRoute
from knowledgebeast.errors import ValidationError
from knowledgebeast.schemas import QueryRequest, QueryResponse

router = APIRouter(prefix="/api/v1", tags=["query"], route_class=StrictJSONRoute)


@router.post(
    "/query",
    response_model=QueryResponse,
    summary="Search a collection",
    responses=error_responses(404, 415, 504),
)
async def query(
    body: QueryRequest,
    _json: JsonBody,
    request: Request,
    principal: QueryPrincipal,
    service: QueryServiceDep,
    settings: SettingsDep,
) -> QueryResponse:
    """Ranked chunks with scores and citations (hybrid lexical + dense by default)."""
    _check_bounds(body, settings.max_query_length, settings.max_top_k)
    principal.require_collection(body.collection)
    response = await run_bounded(request, service.query, body)
    request.state.cache_hit = response.cached
    return response


def _check_bounds(body: QueryRequest, max_length: int, max_top_k: int) -> None:
    """MAX_QUERY_LENGTH / MAX_TOP_K may be set below the schema's hard ceilings (2000 / 100)."""
    if len(body.query) > max_length:
        raise ValidationError(
            f"query is longer than {max_length} characters", details={"field": "query", "max": max_length}
        )
    if body.top_k > max_top_k:
        raise ValidationError(f"top_k must be at most {max_top_k}", details={"field": "top_k", "max": max_top_k})
