"""Collections: list, inspect, delete."""

from __future__ import annotations

from typing import Annotated

import anyio
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from knowledgebeast.api.deps import AdminPrincipal, QueryPrincipal, RegistryDep, StoreDep
from knowledgebeast.api.errors import error_responses
from knowledgebeast.api.routes.documents import DocumentInfo
from knowledgebeast.api.routing import StrictJSONRoute
from knowledgebeast.errors import CollectionNotFoundError
from knowledgebeast.identity import is_user_collection, require_user_collection
from knowledgebeast.security.principal import Principal

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


def _visible(name: str, principal: Principal) -> str:
    """Reserved and other tenants' collections answer exactly like missing ones (404)."""
    require_user_collection(name)
    if not principal.can_access(name):
        raise CollectionNotFoundError(f"collection {name!r} does not exist")
    return name


@router.get("", response_model=CollectionList, summary="List collections", responses=error_responses())
async def list_collections(principal: QueryPrincipal, store: StoreDep) -> CollectionList:
    """Collections the caller may see, with chunk counts."""
    infos = await anyio.to_thread.run_sync(store.list_collections)
    return CollectionList(
        collections=[
            CollectionOut(name=i.name, chunks=i.count)
            for i in sorted(infos, key=lambda i: i.name)
            if is_user_collection(i.name) and principal.can_access(i.name)
        ]
    )


@router.get("/{name}", response_model=CollectionOut, summary="Inspect a collection", responses=error_responses(404))
async def get_collection(name: str, principal: QueryPrincipal, store: StoreDep, registry: RegistryDep) -> CollectionOut:
    """Chunk and document counts of one collection."""
    _visible(name, principal)
    info = await anyio.to_thread.run_sync(store.collection_info, name)
    documents = await anyio.to_thread.run_sync(lambda: len(registry.list(name)))
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
    store: StoreDep,
    registry: RegistryDep,
    limit: Annotated[int, Query(ge=1, le=MAX_DOCUMENTS_LISTED, description="At most this many records.")] = 1000,
) -> DocumentList:
    """The registry records of the collection's live documents (what the search page lists)."""
    _visible(name, principal)
    await anyio.to_thread.run_sync(store.collection_info, name)  # 404 for an unknown collection
    records = await anyio.to_thread.run_sync(lambda: registry.list(name, limit=limit))
    return DocumentList(
        documents=[
            DocumentInfo(**{k: getattr(r, k) for k in DocumentInfo.model_fields})
            for r in sorted(records, key=lambda r: r.source)
        ]
    )


@router.delete("/{name}", response_model=CollectionOut, summary="Delete a collection", responses=error_responses(404))
async def delete_collection(
    name: str, principal: AdminPrincipal, store: StoreDep, registry: RegistryDep
) -> CollectionOut:
    """Delete the collection and every document record in it (admin scope)."""
    _visible(name, principal)
    info = await anyio.to_thread.run_sync(store.collection_info, name)
    await anyio.to_thread.run_sync(store.delete_collection, name)
    await anyio.to_thread.run_sync(registry.forget_collection, name)
    return CollectionOut(name=name, chunks=info.count, documents=0)
