"""Collections: list, inspect, delete."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from knowledgebeast.api.deps import AdminPrincipal, IngestServiceDep, QueryPrincipal
from knowledgebeast.api.errors import error_responses
from knowledgebeast.api.routes.documents import DocumentInfo
from knowledgebeast.api.routing import StrictJSONRoute
from knowledgebeast.errors import CollectionNotFoundError
from knowledgebeast.identity import RESERVED_COLLECTIONS

MAX_DOCUMENTS_LISTED = 10_000
router = APIRouter(prefix="/api/v1/collections", tags=["collections"], route_class=StrictJSONRoute)


class CollectionOut(BaseModel):
    """A collection and its size."""

    name: str = Field(..., description="Collection name.", examples=["default"])
    chunks: int = Field(..., description="Number of indexed chunks.", examples=[128])
    documents: int | None = Field(
        None,
        description="Number of live documents (null in listings, where counting would cost a scan).",
        examples=[12],
    )


class CollectionList(BaseModel):
    """Collections visible to the caller."""

    collections: list[CollectionOut] = Field(..., description="Sorted by name; reserved collections never appear.")


@router.get("", response_model=CollectionList, summary="List collections", responses=error_responses())
async def list_collections(principal: QueryPrincipal, service: IngestServiceDep) -> CollectionList:
    """Collections the caller may see, with chunk counts."""
    infos = await anyio.to_thread.run_sync(service.store.list_collections)
    return CollectionList(
        collections=[
            CollectionOut(name=i.name, chunks=i.count)
            for i in sorted(infos, key=lambda i: i.name)
            if i.name not in RESERVED_COLLECTIONS and principal.can_access(i.name)
        ]
    )


@router.get("/{name}", response_model=CollectionOut, summary="Inspect a collection", responses=error_responses(404))
async def get_collection(name: str, principal: QueryPrincipal, service: IngestServiceDep) -> CollectionOut:
    """Chunk and document counts of one collection."""
    if name in RESERVED_COLLECTIONS or not principal.can_access(name):
        raise CollectionNotFoundError(f"collection {name!r} does not exist")
    info = await anyio.to_thread.run_sync(service.store.collection_info, name)
    documents = await anyio.to_thread.run_sync(lambda: len(service.registry.list(name)))
    return CollectionOut(name=info.name, chunks=info.count, documents=documents)


class DocumentList(BaseModel):
    documents: list[DocumentInfo] = Field(..., description="Live documents of the collection, by source.")


@router.get(
    "/{name}/documents",
    response_model=DocumentList,
    summary="List a collection's documents",
    responses=error_responses(404),
)
async def list_documents(
    name: str,
    principal: QueryPrincipal,
    service: IngestServiceDep,
    limit: Annotated[int, Query(ge=1, le=MAX_DOCUMENTS_LISTED, description="At most this many records.")] = 1000,
) -> DocumentList:
    """The registry records of the collection's live documents (what the search page lists)."""
    if name in RESERVED_COLLECTIONS or not principal.can_access(name):
        raise CollectionNotFoundError(f"collection {name!r} does not exist")
    await anyio.to_thread.run_sync(service.store.collection_info, name)  # 404 for an unknown collection
    records = await anyio.to_thread.run_sync(lambda: service.registry.list(name, limit=limit))
    return DocumentList(
        documents=[
            DocumentInfo(**{k: getattr(r, k) for k in DocumentInfo.model_fields})
            for r in sorted(records, key=lambda r: r.source)
        ]
    )


@router.delete("/{name}", response_model=CollectionOut, summary="Delete a collection", responses=error_responses(404))
async def delete_collection(name: str, principal: AdminPrincipal, service: IngestServiceDep) -> CollectionOut:
    """Delete the collection and every document record in it (admin scope)."""
    if name in RESERVED_COLLECTIONS or not principal.can_access(name):
        raise CollectionNotFoundError(f"collection {name!r} does not exist")
    info = await anyio.to_thread.run_sync(service.store.collection_info, name)
    await anyio.to_thread.run_sync(service.store.delete_collection, name)
    await anyio.to_thread.run_sync(service.registry.forget_collection, name)
    return CollectionOut(name=name, chunks=info.count, documents=0)
