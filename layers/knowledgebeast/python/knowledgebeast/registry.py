"""The document registry: one record per document, the commit point of every ingest and delete.

Kept in the vector store itself (a reserved collection with a 1-dimensional placeholder vector) so
it lives and is backed up with the chunks, in local mode and in AWS alike. A record says which
content version of a document is complete (``content_hash``, ``chunk_count``) and the last S3
``sequencer`` applied, so retries after a crash redo the work and stale, out-of-order events are
ignored. A deleted document keeps a tombstone record (``deleted=True``) for the same reason.
The ``source_*`` fields stamp what the source looked like when it was read (S3 ETag, version id,
size, last-modified; a local file's sha256 and size), so ``sync`` and reconcile can tell a changed
source without downloading it. Concurrent writers of one document agree through
:mod:`knowledgebeast.versions`, whose claim rows share this collection (and never carry the
``document_id``/``collection`` keys these queries filter on).
"""

from __future__ import annotations

import builtins
from dataclasses import asdict, dataclass, replace

import numpy as np

from knowledgebeast.identity import RESERVED_COLLECTIONS
from knowledgebeast.store.base import Metadata, VectorStoreProtocol

REGISTRY_COLLECTION = "kb-documents-registry"
assert REGISTRY_COLLECTION in RESERVED_COLLECTIONS
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
    source_etag: str = ""
    source_version: str = ""
    source_size: int = -1
    source_modified: str = ""

    def to_metadata(self) -> Metadata:
        return dict(asdict(self))

    @classmethod
    def from_metadata(cls, metadata: Metadata) -> DocumentRecord:
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in metadata.items() if k in fields})  # type: ignore[arg-type]


@dataclass(frozen=True)
class SourceStamp:
    """What the source looked like when read: S3 ETag/version/size/last-modified, or a file's sha256/size."""

    etag: str = ""
    version: str = ""
    size: int = -1
    modified: str = ""

    def apply(self, record: DocumentRecord) -> DocumentRecord:
        if self == SourceStamp():
            return record
        return replace(
            record,
            source_etag=self.etag,
            source_version=self.version,
            source_size=self.size,
            source_modified=self.modified,
        )


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

    def ensure(self) -> None:
        if not self._ready:
            self._store.ensure_collection(REGISTRY_COLLECTION, {"kb_role": "registry"})
            self._ready = True

    def get(self, document_id: str) -> DocumentRecord | None:
        self.ensure()
        found = self._store.get_where(
            REGISTRY_COLLECTION, {"document_id": {"$eq": document_id}}, limit=1, include_text=False
        )
        return DocumentRecord.from_metadata(found[0].metadata) if found else None

    def put(self, record: DocumentRecord) -> None:
        self.ensure()
        self._store.upsert(
            REGISTRY_COLLECTION, [record.document_id], _PLACEHOLDER, [record.source], [record.to_metadata()]
        )

    def list(self, collection: str, *, limit: int | None = None) -> list[DocumentRecord]:
        self.ensure()
        found = self._store.get_where(
            REGISTRY_COLLECTION,
            {"$and": [{"collection": {"$eq": collection}}, {"deleted": {"$eq": False}}]},
            limit=limit,
            include_text=False,
        )
        return [DocumentRecord.from_metadata(item.metadata) for item in found]

    def live(self) -> builtins.list[DocumentRecord]:
        """Every record that is not a tombstone, across collections (what sync compares against)."""
        self.ensure()
        found = self._store.get_where(REGISTRY_COLLECTION, {"deleted": {"$eq": False}}, include_text=False)
        return [DocumentRecord.from_metadata(item.metadata) for item in found]

    def forget_collection(self, collection: str) -> None:
        self.ensure()
        self._store.delete_where(REGISTRY_COLLECTION, {"collection": {"$eq": collection}})
        self._store.delete_where(REGISTRY_COLLECTION, {"claim_collection": {"$eq": collection}})
