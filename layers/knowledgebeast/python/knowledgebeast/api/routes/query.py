"""POST /api/v1/query."""

from __future__ import annotations

from fastapi import APIRouter, Request

from knowledgebeast.api.deps import JsonBody, QueryPrincipal, QueryServiceDep
from knowledgebeast.api.limits import run_bounded
from knowledgebeast.schemas import QueryRequest, QueryResponse

router = APIRouter(prefix="/api/v1", tags=["query"])


@router.post("/query", response_model=QueryResponse, summary="Search a collection")
async def query(
    body: QueryRequest, _json: JsonBody, request: Request, principal: QueryPrincipal, service: QueryServiceDep
) -> QueryResponse:
    """Ranked chunks with scores and citations (hybrid lexical + dense by default)."""
    principal.require_collection(body.collection)
    response = await run_bounded(request, service.query, body)
    request.state.cache_hit = response.cached
    return response
