"""The ingest pipeline: bytes -> parse -> chunk -> embed -> store, idempotent and crash-safe.

Order of writes (why a crash followed by a retry leaves exactly the new version):
1. upsert the new chunks (deterministic ids, so a retry rewrites the same rows);
2. delete the document's chunks of any other content version;
3. bump the collection version (invalidates cached answers);
4. write the registry record (the commit point: content hash, chunk count, S3 sequencer).
A retry after a crash anywhere before step 4 finds the registry still on the old hash and redoes
every step; re-ingesting unchanged content finds the same hash and writes nothing. The version is
bumped *before* the commit because a retry that finds the commit done writes nothing: had the
process died between a commit and a later bump, answers cached from the old chunks would have
been served until their TTL.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from knowledgebeast.chunking import Chunk, ChunkingConfig, make_chunker
from knowledgebeast.embedding.base import EmbedderProtocol, TokenCounterProtocol
from knowledgebeast.errors import DocumentNotFoundError, ValidationError
from knowledgebeast.identity import check_collection_name, chunk_id, content_hash, document_id
from knowledgebeast.lexical import analyze
from knowledgebeast.observability import metrics
from knowledgebeast.parsing import ParseLimits, parse_document
from knowledgebeast.parsing.base import ParsedDocument
from knowledgebeast.registry import DocumentRecord, DocumentRegistry, sequencer_is_newer
from knowledgebeast.store.base import VERSION_KEY as VERSION_KEY  # re-exported: backup modules use it
from knowledgebeast.store.base import Metadata, MetadataValue, VectorStoreProtocol

logger = logging.getLogger(__name__)

#: Chunk metadata keys written by KnowledgeBeast; user metadata may not override them.
SYSTEM_KEYS = frozenset(
    {
        "document_id",
        "source",
        "title",
        "page",
        "heading_path",
        "start",
        "end",
        "chunk_index",
        "chunk_count",
        "content_hash",
        "media_type",
        "ingested_at",
        "kb_terms",
    }
)
MAX_USER_METADATA_KEYS = 32
#: Title/heading context prepended for the model; chunks leave room for it (chunk_max_tokens 224 of 254).
MAX_CONTEXT_CHARS = 120

Outcome = Literal["indexed", "replaced", "unchanged", "deleted", "skipped"]


@dataclass(frozen=True)
class IngestResult:
    document_id: str
    collection: str
    source: str
    outcome: Outcome
    chunks: int = 0
    seconds: float = 0.0
    title: str = ""


@dataclass(frozen=True)
class IngestItem:
    """One document for :meth:`IngestService.ingest_many` (the arguments of ``ingest_bytes``)."""

    data: bytes
    source: str
    filename: str | None = None
    media_type: str | None = None
    metadata: Mapping[str, object] | None = None
    sequencer: str = ""
    title: str | None = None


@dataclass
class _Pending:
    """A parsed and chunked document waiting for the batch's writes."""

    started: float
    existing: DocumentRecord | None
    ids: list[str]
    texts: list[str]
    embedding_texts: list[str]
    metadatas: list[Metadata]
    record: DocumentRecord


@dataclass(frozen=True)
class IngestOptions:
    strategy: str = "semantic"
    chunking: ChunkingConfig = field(default_factory=ChunkingConfig)
    limits: ParseLimits = field(default_factory=ParseLimits)


def clean_user_metadata(metadata: Mapping[str, object] | None) -> Metadata:
    """User key/values for filters: scalars only, no system keys, bounded count."""
    if not metadata:
        return {}
    if len(metadata) > MAX_USER_METADATA_KEYS:
        raise ValidationError(f"at most {MAX_USER_METADATA_KEYS} metadata keys are allowed")
    clean: Metadata = {}
    for key, value in metadata.items():
        # "$" is the filter operator prefix and "#" is reserved by Chroma ("#document", ...): both unusable
        if not isinstance(key, str) or not key or key[0] in "$#" or key in SYSTEM_KEYS or key.startswith("kb_"):
            raise ValidationError(f"metadata key {key!r} is reserved or invalid")
        if value is None:
            continue
        if not isinstance(value, str | int | float | bool):
            raise ValidationError(f"metadata value of {key!r} must be a string, number or boolean")
        clean[key] = value
    return clean


class IngestService:
    """Indexes documents into collections; the one implementation behind CLI, API and Lambda."""

    def __init__(
        self,
        store: VectorStoreProtocol,
        embedder: EmbedderProtocol,
        token_counter: TokenCounterProtocol,
        *,
        options: IngestOptions | None = None,
        registry: DocumentRegistry | None = None,
    ) -> None:
        self.store = store
        self.embedder = embedder
        self.token_counter = token_counter
        self.options = options or IngestOptions()
        self.registry = registry or DocumentRegistry(store)

    def _fingerprint(self, strategy: str) -> str:
        c = self.options.chunking
        return f"{strategy}:{c.size}:{c.overlap}:{c.max_size}:{c.max_tokens}:{self.embedder.model_id}:v1"

    def ensure_collection(self, collection: str) -> None:
        self.store.ensure_collection(
            check_collection_name(collection),
            {"kb_model": self.embedder.model_id, "kb_dimension": self.embedder.dimension},
        )

    def bump_version(self, collection: str) -> None:
        self.store.set_collection_metadata(collection, {VERSION_KEY: uuid.uuid4().hex})

    def ingest_bytes(
        self,
        data: bytes,
        *,
        collection: str,
        source: str,
        filename: str | None = None,
        media_type: str | None = None,
        metadata: Mapping[str, object] | None = None,
        strategy: str | None = None,
        sequencer: str = "",
        title: str | None = None,
    ) -> IngestResult:
        item = IngestItem(data, source, filename, media_type, metadata, sequencer, title)
        return self.ingest_many([item], collection=collection, strategy=strategy)[0]

    def ingest_many(
        self, items: Sequence[IngestItem], *, collection: str, strategy: str | None = None
    ) -> list[IngestResult]:
        """Index several documents with one embedding run, one upsert, one version bump and one
        registry write: per-call costs of the model and the store are paid once per batch instead of
        once per document (the batch's chunks are embedded in length-sorted batches, so short and
        long chunks are not padded to each other). The write order, and so the crash safety, is the
        one described in this module's docstring, applied to the whole batch."""
        strategy = strategy or self.options.strategy
        sources = [item.source for item in items]
        if len(set(sources)) < len(sources):  # one document twice: each version must be its own write
            return [self.ingest_many([item], collection=collection, strategy=strategy)[0] for item in items]
        self.ensure_collection(collection)
        results: list[IngestResult | None] = [None] * len(items)
        pending: list[tuple[int, _Pending]] = []
        for number, item in enumerate(items):
            prepared = self._prepare(item, collection, strategy)
            if isinstance(prepared, IngestResult):
                results[number] = prepared
            else:
                pending.append((number, prepared))
        if pending:
            self._write(collection, [p for _, p in pending])
            for number, p in pending:
                outcome: Outcome = "replaced" if p.existing and not p.existing.deleted else "indexed"
                metrics.count_ingest(outcome, p.record.chunk_count)
                results[number] = self._done(
                    p.record.document_id,
                    collection,
                    p.record.source,
                    outcome,
                    p.record.chunk_count,
                    p.started,
                    p.record.title,
                )
        return [result for result in results if result is not None]

    def _prepare(self, item: IngestItem, collection: str, strategy: str) -> IngestResult | _Pending:
        """Everything before the first write: skip/unchanged decisions, parsing, chunking, metadata."""
        started = time.perf_counter()
        user_metadata = clean_user_metadata(item.metadata)
        doc_id = document_id(collection, item.source)
        existing = self.registry.get(doc_id)
        sequencer, source = item.sequencer, item.source
        if sequencer and existing and existing.sequencer and not sequencer_is_newer(sequencer, existing.sequencer):
            return self._done(doc_id, collection, source, "skipped", 0, started, existing.title)
        new_hash = content_hash(
            item.data, fingerprint=f"{self._fingerprint(strategy)}|{item.title}|{sorted(user_metadata.items())!r}"
        )
        if existing and not existing.deleted and existing.content_hash == new_hash:
            if sequencer and sequencer != existing.sequencer:
                self.registry.put(_replace(existing, sequencer=sequencer))
            return self._done(doc_id, collection, source, "unchanged", existing.chunk_count, started, existing.title)

        filename = item.filename or source
        parsed = parse_document(item.data, filename=filename, media_type=item.media_type, limits=self.options.limits)
        chunks = make_chunker(strategy, self.options.chunking, self.token_counter).chunk(parsed)
        title = item.title or parsed.title or filename.rsplit("/", 1)[-1]
        now = datetime.now(UTC).isoformat()
        return _Pending(
            started=started,
            existing=existing,
            ids=[chunk_id(doc_id, new_hash, chunk.index) for chunk in chunks],
            texts=[chunk.text for chunk in chunks],
            embedding_texts=[_embedding_text(title, chunk) for chunk in chunks],
            metadatas=[
                self._chunk_metadata(chunk, parsed, doc_id, source, title, new_hash, len(chunks), now, user_metadata)
                for chunk in chunks
            ],
            record=DocumentRecord(
                document_id=doc_id,
                collection=collection,
                source=source,
                content_hash=new_hash,
                chunk_count=len(chunks),
                title=title,
                media_type=parsed.media_type,
                ingested_at=now,
                sequencer=sequencer or (existing.sequencer if existing else ""),
            ),
        )

    def _write(self, collection: str, batch: list[_Pending]) -> None:
        """Upsert the new chunks, delete other versions' chunks, bump the version, commit the records."""
        embed_started = time.perf_counter()
        vectors = self.embedder.embed([text for p in batch for text in p.embedding_texts])
        metrics.observe_embedding_batch(time.perf_counter() - embed_started)
        ids = [i for p in batch for i in p.ids]
        metadatas = [m for p in batch for m in p.metadatas]
        self.store.upsert(collection, ids, vectors, [t for p in batch for t in p.texts], metadatas)
        keep = set(ids)
        doc_ids = [p.record.document_id for p in batch]
        where = {"document_id": {"$eq": doc_ids[0]}} if len(doc_ids) == 1 else {"document_id": {"$in": doc_ids}}
        stale = [item.id for item in self.store.get_where(collection, where, include_text=False) if item.id not in keep]
        self.store.delete_ids(collection, stale)
        self.bump_version(collection)
        if len(batch) == 1:
            self.registry.put(batch[0].record)
        else:
            self.registry.put_many([p.record for p in batch])

    def delete_document(self, collection: str, doc_id: str, *, sequencer: str = "") -> IngestResult:
        """Remove every chunk of a document and leave a tombstone (so late events can't resurrect it)."""
        started = time.perf_counter()
        existing = self.registry.get(doc_id)
        if existing is None or existing.collection != collection:
            raise DocumentNotFoundError(f"document {doc_id!r} not found in {collection!r}")
        if sequencer and existing.sequencer and not sequencer_is_newer(sequencer, existing.sequencer):
            return self._done(doc_id, collection, existing.source, "skipped", 0, started, existing.title)
        removed = self.store.delete_where(collection, {"document_id": {"$eq": doc_id}})
        self.bump_version(collection)  # before the commit, for the same reason as in ingest_bytes
        self.registry.put(
            _replace(existing, deleted=True, chunk_count=0, content_hash="", sequencer=sequencer or existing.sequencer)
        )
        metrics.count_ingest("deleted", 0)
        return self._done(doc_id, collection, existing.source, "deleted", removed, started, existing.title)

    def delete_source(self, collection: str, source: str, *, sequencer: str = "") -> IngestResult:
        """Delete by source uri; a delete for a never-seen document still records a tombstone."""
        doc_id = document_id(collection, source)
        if self.registry.get(doc_id) is None:
            self.ensure_collection(collection)
            self.registry.put(
                DocumentRecord(
                    doc_id,
                    collection,
                    source,
                    "",
                    0,
                    "",
                    "",
                    datetime.now(UTC).isoformat(),
                    sequencer=sequencer,
                    deleted=True,
                )
            )
            return IngestResult(doc_id, collection, source, "deleted")
        return self.delete_document(collection, doc_id, sequencer=sequencer)

    def _chunk_metadata(
        self,
        chunk: Chunk,
        parsed: ParsedDocument,
        doc_id: str,
        source: str,
        title: str,
        hash_: str,
        count: int,
        now: str,
        user_metadata: Metadata,
    ) -> Metadata:
        metadata: dict[str, MetadataValue] = dict(user_metadata)
        metadata.update(
            document_id=doc_id,
            source=source,
            title=title,
            heading_path=" > ".join(chunk.heading_path),
            start=chunk.start,
            end=chunk.end,
            chunk_index=chunk.index,
            chunk_count=count,
            content_hash=hash_,
            media_type=parsed.media_type,
            ingested_at=now,
            kb_terms=" ".join(analyze(f"{title} {' '.join(chunk.heading_path)} {chunk.text}")),
        )
        if chunk.page is not None:
            metadata["page"] = chunk.page
        return metadata

    @staticmethod
    def _done(
        doc_id: str, collection: str, source: str, outcome: Outcome, chunks: int, started: float, title: str
    ) -> IngestResult:
        result = IngestResult(doc_id, collection, source, outcome, chunks, time.perf_counter() - started, title)
        logger.info(
            "ingest document",
            extra={
                "document_id": doc_id,
                "collection": collection,
                "source": source,
                "outcome": outcome,
                "chunks": chunks,
                "duration_ms": round(result.seconds * 1000, 1),
            },
        )
        return result


def _embedding_text(title: str, chunk: Chunk) -> str:
    """What the model reads: title and heading path give a chunk its context."""
    context = " > ".join(part for part in (title, *chunk.heading_path) if part)[:MAX_CONTEXT_CHARS]
    return f"{context}\n{chunk.text}" if context else chunk.text


def _replace(record: DocumentRecord, **changes: object) -> DocumentRecord:
    from dataclasses import replace

    return replace(record, **changes)  # type: ignore[arg-type]
