"""What the rest of KnowledgeBeast needs from a vector store, independent of the engine."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

MetadataValue = str | int | float | bool
Metadata = dict[str, MetadataValue]
Where = Mapping[str, Any]
#: Collection metadata key holding the write version (a fresh uuid on every ingest and delete).
VERSION_KEY = "kb_version"


@dataclass(frozen=True)
class StoredChunk:
    """A chunk as the store returns it. ``distance`` is cosine distance (0 = identical) on search."""

    id: str
    text: str
    metadata: Metadata
    distance: float | None = None
    embedding: np.ndarray | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class CollectionInfo:
    name: str
    count: int
    metadata: Metadata


@dataclass(frozen=True)
class ChunkPage:
    """One page of a full export: chunks plus the offset of the next page (None at the end)."""

    chunks: list[StoredChunk]
    next_offset: int | None


class VectorStoreProtocol(Protocol):
    """Operations KnowledgeBeast performs on collections of embedded chunks."""

    def heartbeat(self) -> None: ...

    def list_collections(self) -> list[CollectionInfo]: ...

    def collection_info(self, name: str) -> CollectionInfo: ...

    def collection_metadata(self, name: str) -> Metadata: ...

    def collection_version(self, name: str) -> str: ...

    def ensure_collection(self, name: str, metadata: Metadata | None = None) -> None: ...

    def delete_collection(self, name: str) -> None: ...

    def set_collection_metadata(self, name: str, metadata: Metadata) -> None: ...

    def upsert(
        self,
        collection: str,
        ids: Sequence[str],
        embeddings: np.ndarray,
        texts: Sequence[str],
        metadatas: Sequence[Metadata],
    ) -> None: ...

    def delete_where(self, collection: str, where: Where) -> int: ...

    def delete_ids(self, collection: str, ids: Sequence[str]) -> None: ...

    def get_where(
        self, collection: str, where: Where, *, limit: int | None = None, include_text: bool = True
    ) -> list[StoredChunk]: ...

    def search(
        self, collection: str, embedding: np.ndarray, *, limit: int, where: Where | None = None
    ) -> list[StoredChunk]: ...

    def get_containing(
        self, collection: str, words: Sequence[str], *, where: Where | None = None, limit: int = 50
    ) -> list[StoredChunk]: ...

    def export_page(self, collection: str, *, offset: int, limit: int) -> ChunkPage: ...
