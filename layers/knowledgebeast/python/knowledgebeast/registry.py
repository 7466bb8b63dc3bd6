"""The document registry: one record per document, the commit point of every ingest and delete.

Kept in the vector store itself (a reserved collection with a 1-dimensional placeholder vector) so
it lives and is backed up with the chunks, in local mode and in AWS alike. A record says which
content version of a document is complete (``content_hash``, ``chunk_count``) and the last S3
``sequencer`` applied, so retries after a crash redo the work and stale, out-of-order events are
ignored. A deleted document keeps a tombstone record (``deleted=True``) for the same reason.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from knowledgebeast.identity import RESERVED_COLLECTIONS
from knowledgebeast.store.base import Metadata, VectorStoreProtocol

REGISTRY_COLLECTION = next(iter(RESERVED_COLLECTIONS))
_PLACEHOLDER = np.ones((1, 1), dtype=np.float32)


@dataclass(frozen=True)
class DocumentRecord:
    document_id: str
    collection: str
    source: str
    content_hash: str
    chunk_count: int
    title: str
    media_type: str
    ingested_at: str
    sequencer: str = ""
    deleted: bool = False

    def to_metadata(self) -> Metadata:
        return dict(asdict(self))

    @classmethod
    def from_metadata(cls, metadata: Metadata) -> DocumentRecord:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in metadata.items() if k in fields})  # type: ignore[arg-type]


def sequencer_is_newer(candidate: str, current: str) -> bool:
    """S3 sequencers are hex strings of varying length: pad the shorter on the right, compare."""
    if not candidate:
        return True
    if not current:
        return True
    width = max(len(candidate), len(current))
    return candidate.ljust(width, "0").upper() > current.ljust(width, "0").upper()


class DocumentRegistry:
    def __init__(self, store: VectorStoreProtocol) -> None:
        self._store = store
        self._ready = False

    def _ensure(self) -> None:
        if not self._ready:
            self._store.ensure_collection(REGISTRY_COLLECTION, {"kb_role": "registry"})
            self._ready = True

    def get(self, document_id: str) -> DocumentRecord | None:
        self._ensure()
        found = self._store.get_where(
            REGISTRY_COLLECTION, {"document_id": {"$eq": document_id}}, limit=1, include_text=False
        )
        return DocumentRecord.from_metadata(found[0].metadata) if found else None

    def put(self, record: DocumentRecord) -> None:
        self._ensure()
        self._store.upsert(
            REGISTRY_COLLECTION, [record.document_id], _PLACEHOLDER, [record.source], [record.to_metadata()]
        )

    def put_many(self, records: list[DocumentRecord]) -> None:
        """One store write for a batch of records (bulk ingest)."""
        if not records:
            return
        self._ensure()
        self._store.upsert(
            REGISTRY_COLLECTION,
            [r.document_id for r in records],
            np.ones((len(records), 1), dtype=np.float32),
            [r.source for r in records],
            [r.to_metadata() for r in records],
        )

    def list(self, collection: str, *, limit: int | None = None) -> list[DocumentRecord]:
        self._ensure()
        found = self._store.get_where(
            REGISTRY_COLLECTION,
            {"$and": [{"collection": {"$eq": collection}}, {"deleted": {"$eq": False}}]},
            limit=limit,
            include_text=False,
        )
        return [DocumentRecord.from_metadata(item.metadata) for item in found]

    def forget_collection(self, collection: str) -> None:
        self._ensure()
        self._store.delete_where(REGISTRY_COLLECTION, {"collection": {"$eq": collection}})
