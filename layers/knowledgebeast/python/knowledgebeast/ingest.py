"""The ingest pipeline: bytes -> parse -> chunk -> embed -> store, idempotent and crash-safe.

Order of writes (why a crash followed by a retry leaves exactly the new version):
1. append a claim for the new version (:mod:`knowledgebeast.versions`: orders concurrent writers);
2. upsert the new chunks (deterministic ids, so a retry rewrites the same rows);
3. settle: delete the document's chunks of any other content version;
4. bump the collection version (invalidates cached answers);
5. write the registry record (the commit point: content hash, chunk count, S3 sequencer, source stamp).
A retry after a crash anywhere before step 5 finds the registry still on the old hash and redoes
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
from dataclasses import dataclass, field, replace
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
from knowledgebeast.record_format import (  # noqa: F401  (re-exported: older imports)
    MAX_USER_METADATA_KEYS,
    SYSTEM_KEYS,
    TERMS_KEY,
    VERSION_KEY,
    join_heading_path,
    join_terms,
)
from knowledgebeast.registry import DocumentRecord, DocumentRegistry, SourceStamp
from knowledgebeast.store.base import Metadata, MetadataValue, VectorStoreProtocol
from knowledgebeast.versions import DocumentVersions, VersionCheck

logger = logging.getLogger(__name__)

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
    stamp: SourceStamp | None = None
    check: VersionCheck | None = None


@dataclass
class _Pending:
    """A parsed and chunked document waiting for its embeddings and its writes."""

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
        # bump_version is looked up per call, so wrappers installed on the instance see every bump
        self.versions = DocumentVersions(store, self.registry, lambda collection: self.bump_version(collection))

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

    def is_stale(self, collection: str, source: str, sequencer: str) -> bool:
        """Whether an S3 event is older than (or the same as) what was already claimed or applied."""
        return self.version_check(collection, source, sequencer).stale

    def version_check(self, collection: str, source: str, sequencer: str = "") -> VersionCheck:
        """Read once, before the bytes are read; pass the result to :meth:`ingest_bytes` as ``check``."""
        return self.versions.check(document_id(collection, source), sequencer)

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
        stamp: SourceStamp | None = None,
        check: VersionCheck | None = None,
    ) -> IngestResult:
        """Index one document; newest version wins against concurrent writers (see versions.py).

        ``check`` is :meth:`version_check` taken *before* ``data`` was read (else it is taken now):
        an unordered write (no ``sequencer``) is ordered after what that check saw.
        """
        item = IngestItem(data, source, filename, media_type, metadata, sequencer, title, stamp, check)
        return self.ingest_many([item], collection=collection, strategy=strategy)[0]

    def ingest_many(
        self, items: Sequence[IngestItem], *, collection: str, strategy: str | None = None
    ) -> list[IngestResult]:
        """Index several documents with one embedding run: the model's per-call cost is paid once
        per batch (its chunks are embedded in length-sorted batches, so short and long chunks are
        not padded to each other). Each document is then written under the version protocol of
        this module's docstring (claim, upsert, settle), exactly as if it had been ingested alone."""
        strategy = strategy or self.options.strategy
        self.ensure_collection(collection)
        results: list[IngestResult | None] = [None] * len(items)
        pending: list[tuple[int, _Pending]] = []
        for number, item in enumerate(items):
            if any(p.record.source == item.source for _, p in pending):  # one source twice: in order
                self._commit(collection, pending, results)
                pending = []
            prepared = self._prepare(item, collection, strategy)
            if isinstance(prepared, IngestResult):
                results[number] = prepared
            else:
                pending.append((number, prepared))
        self._commit(collection, pending, results)
        return [result for result in results if result is not None]

    def _prepare(self, item: IngestItem, collection: str, strategy: str) -> IngestResult | _Pending:
        """Everything before the first write: stale/unchanged decisions, parsing, chunking, metadata."""
        started = time.perf_counter()
        user_metadata = clean_user_metadata(item.metadata)
        source = item.source
        doc_id = document_id(collection, source)
        check = item.check or self.versions.check(doc_id, item.sequencer)
        existing = check.existing
        if check.stale:
            return self._done(doc_id, collection, source, "skipped", 0, started, existing.title if existing else "")
        order = item.sequencer or check.after
        stamp = item.stamp or SourceStamp()
        new_hash = content_hash(
            item.data, fingerprint=f"{self._fingerprint(strategy)}|{item.title}|{sorted(user_metadata.items())!r}"
        )
        if existing and not existing.deleted and existing.content_hash == new_hash:
            updated = stamp.apply(replace(existing, sequencer=order))
            if updated != existing:
                self.versions.claim(updated)
                self.versions.settle(collection, doc_id)
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
            record=stamp.apply(
                DocumentRecord(doc_id, collection, source, new_hash, len(chunks), title, parsed.media_type, now, order)
            ),
        )

    def _commit(
        self, collection: str, numbered: list[tuple[int, _Pending]], results: list[IngestResult | None]
    ) -> None:
        """Embed the batch in one run, then claim, upsert and settle each document in turn."""
        if not numbered:
            return
        embed_started = time.perf_counter()
        vectors = self.embedder.embed([text for _, p in numbered for text in p.embedding_texts])
        metrics.observe_embedding_batch(time.perf_counter() - embed_started)
        offset = 0
        for number, p in numbered:
            count = len(p.ids)
            claim = self.versions.claim(p.record)
            self.store.upsert(collection, p.ids, vectors[offset : offset + count], p.texts, p.metadatas)
            offset += count
            doc_id, source, title = p.record.document_id, p.record.source, p.record.title
            settled = self.versions.settle(collection, doc_id)
            if settled.winner is None or settled.winner.key != claim.key:
                results[number] = self._done(doc_id, collection, source, "skipped", 0, p.started, title)
                continue
            outcome: Outcome = "replaced" if p.existing and not p.existing.deleted else "indexed"
            metrics.count_ingest(outcome, count)
            results[number] = self._done(doc_id, collection, source, outcome, count, p.started, title)

    def delete_document(self, collection: str, doc_id: str, *, sequencer: str = "") -> IngestResult:
        """Remove every chunk of a document and leave a tombstone (so late events can't resurrect it)."""
        existing = self.registry.get(doc_id)
        if existing is None or existing.collection != collection:
            raise DocumentNotFoundError(f"document {doc_id!r} not found in {collection!r}")
        return self._delete(collection, existing.source, doc_id, sequencer)

    def delete_source(
        self, collection: str, source: str, *, sequencer: str = "", check: VersionCheck | None = None
    ) -> IngestResult:
        """Delete by source uri; a delete for a never-seen document still records a tombstone.

        ``check``: :meth:`version_check` taken before the source was seen to be gone (as in ingest).
        """
        self.ensure_collection(collection)
        return self._delete(collection, source, document_id(collection, source), sequencer, check)

    def _delete(
        self, collection: str, source: str, doc_id: str, sequencer: str, check: VersionCheck | None = None
    ) -> IngestResult:
        started = time.perf_counter()
        check = check or self.versions.check(doc_id, sequencer)
        existing = check.existing
        title = existing.title if existing else ""
        if check.stale:
            return self._done(doc_id, collection, source, "skipped", 0, started, title)
        tombstone = DocumentRecord(
            doc_id,
            collection,
            source,
            "",
            0,
            title,
            "",
            datetime.now(UTC).isoformat(),
            sequencer=sequencer or check.after,
            deleted=True,
        )
        claim = self.versions.claim(tombstone)
        settled = self.versions.settle(collection, doc_id)
        if settled.winner is None or settled.winner.key != claim.key:
            return self._done(doc_id, collection, source, "skipped", 0, started, title)
        metrics.count_ingest("deleted", 0)
        return self._done(doc_id, collection, source, "deleted", settled.removed_chunks, started, title)

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
            heading_path=join_heading_path(chunk.heading_path),
            start=chunk.start,
            end=chunk.end,
            chunk_index=chunk.index,
            chunk_count=count,
            content_hash=hash_,
            media_type=parsed.media_type,
            ingested_at=now,
            kb_terms=join_terms(analyze(f"{title} {' '.join(chunk.heading_path)} {chunk.text}")),
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
    context = join_heading_path(part for part in (title, *chunk.heading_path) if part)[:MAX_CONTEXT_CHARS]
    return f"{context}\n{chunk.text}" if context else chunk.text
