"""Collections: list, inspect, delete."""

from __future__ import annotations

import anyio
from fastapi import APIRouter
from pydantic import BaseModel

from knowledgebeast.api.deps import AdminPrincipal, QueryPrincipal, RegistryDep, StoreDep
from knowledgebeast.api.errors import error_responses
from knowledgebeast.api.routing import StrictJSONRoute
from knowledgebeast.errors import CollectionNotFoundError
from knowledgebeast.identity import is_user_collection, require_user_collection
from knowledgebeast.security.principal import Principal

router = APIRouter(prefix="/api/v1/collections", tags=["collections"], route_class=StrictJSONRoute)


class CollectionOut(BaseModel):
    name: str
    chunks: int
    documents: int | None = None


class CollectionList(BaseModel):
    collections: list[CollectionOut]


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
