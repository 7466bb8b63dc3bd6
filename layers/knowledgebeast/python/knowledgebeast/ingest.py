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
from collections.abc import Mapping
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
VERSION_KEY = "kb_version"
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
        started = time.perf_counter()
        strategy = strategy or self.options.strategy
        user_metadata = clean_user_metadata(metadata)
        self.ensure_collection(collection)
        doc_id = document_id(collection, source)
        existing = self.registry.get(doc_id)
        if sequencer and existing and existing.sequencer and not sequencer_is_newer(sequencer, existing.sequencer):
            return self._done(doc_id, collection, source, "skipped", 0, started, existing.title)
        new_hash = content_hash(
            data, fingerprint=f"{self._fingerprint(strategy)}|{title}|{sorted(user_metadata.items())!r}"
        )
        if existing and not existing.deleted and existing.content_hash == new_hash:
            if sequencer and sequencer != existing.sequencer:
                self.registry.put(_replace(existing, sequencer=sequencer))
            return self._done(doc_id, collection, source, "unchanged", existing.chunk_count, started, existing.title)

        parsed = parse_document(data, filename=filename or source, media_type=media_type, limits=self.options.limits)
        chunks = make_chunker(strategy, self.options.chunking, self.token_counter).chunk(parsed)
        title = title or parsed.title or (filename or source).rsplit("/", 1)[-1]
        now = datetime.now(UTC).isoformat()
        ids = [chunk_id(doc_id, new_hash, chunk.index) for chunk in chunks]
        metadatas = [
            self._chunk_metadata(chunk, parsed, doc_id, source, title, new_hash, len(chunks), now, user_metadata)
            for chunk in chunks
        ]
        embed_started = time.perf_counter()
        vectors = self.embedder.embed([_embedding_text(title, chunk) for chunk in chunks])
        metrics.observe_embedding_batch(time.perf_counter() - embed_started)
        self.store.upsert(collection, ids, vectors, [c.text for c in chunks], metadatas)
        stale = [
            item.id
            for item in self.store.get_where(collection, {"document_id": {"$eq": doc_id}}, include_text=False)
            if item.id not in set(ids)
        ]
        self.store.delete_ids(collection, stale)
        self.bump_version(collection)
        self.registry.put(
            DocumentRecord(
                document_id=doc_id,
                collection=collection,
                source=source,
                content_hash=new_hash,
                chunk_count=len(chunks),
                title=title,
                media_type=parsed.media_type,
                ingested_at=now,
                sequencer=sequencer or (existing.sequencer if existing else ""),
            )
        )
        outcome: Outcome = "replaced" if existing and not existing.deleted else "indexed"
        metrics.count_ingest(outcome, len(chunks))
        return self._done(doc_id, collection, source, outcome, len(chunks), started, title)

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
