"""Vector store adapter (Chroma) and filter validation."""

from knowledgebeast.store.base import ChunkPage, CollectionInfo, Metadata, StoredChunk, VectorStoreProtocol
from knowledgebeast.store.filters import validate_filter

__all__ = ["ChunkPage", "CollectionInfo", "Metadata", "StoredChunk", "VectorStoreProtocol", "validate_filter"]
