"""Ingest pipeline against a real Chroma server: idempotency, replacement, deletion, metadata."""

from __future__ import annotations

from typing import Any

import pytest

from knowledgebeast.errors import DocumentNotFoundError, ParseError, ValidationError
from knowledgebeast.ingest import VERSION_KEY, IngestService

GUIDE_V1 = (
    b"# Deploy\n\nRun cdk deploy to ship the stacks to AWS.\n\n## Bootstrap\n\nRun cdk bootstrap once per account."
)
GUIDE_V2 = b"# Deploy\n\nUse the new pipeline: make layers, then cdk deploy --all.\n"


@pytest.fixture
def service(http_store: Any, embedder: Any) -> IngestService:
    return IngestService(http_store, embedder, embedder.token_counter)


def _chunks(service: IngestService, collection: str, doc_id: str) -> list[Any]:
    return service.store.get_where(collection, {"document_id": {"$eq": doc_id}})


def test_ingest_writes_citable_chunks(service: IngestService, collection_name: str) -> None:
    result = service.ingest_bytes(
        GUIDE_V1, collection=collection_name, source="docs/deploy.md", metadata={"team": "platform", "year": 2026}
    )
    assert result.outcome == "indexed" and result.chunks >= 2
    chunks = _chunks(service, collection_name, result.document_id)
    assert len(chunks) == result.chunks
    by_index = sorted(chunks, key=lambda c: c.metadata["chunk_index"])
    text = GUIDE_V1.decode()
    for chunk in by_index:
        meta = chunk.metadata
        assert text[meta["start"] : meta["end"]] == chunk.text
        assert meta["source"] == "docs/deploy.md" and meta["title"] == "Deploy"
        assert meta["team"] == "platform" and meta["year"] == 2026
        assert meta["chunk_count"] == result.chunks
    assert by_index[-1].metadata["heading_path"] == "Deploy > Bootstrap"


def test_reingest_unchanged_is_a_noop(service: IngestService, collection_name: str) -> None:
    first = service.ingest_bytes(GUIDE_V1, collection=collection_name, source="a.md")
    version = service.store.collection_metadata(collection_name)[VERSION_KEY]
    ids = sorted(c.id for c in _chunks(service, collection_name, first.document_id))
    again = service.ingest_bytes(GUIDE_V1, collection=collection_name, source="a.md")
    assert again.outcome == "unchanged" and again.document_id == first.document_id
    assert service.store.collection_metadata(collection_name)[VERSION_KEY] == version
    assert sorted(c.id for c in _chunks(service, collection_name, first.document_id)) == ids


def test_changed_content_replaces_all_chunks(service: IngestService, collection_name: str) -> None:
    first = service.ingest_bytes(GUIDE_V1, collection=collection_name, source="a.md")
    second = service.ingest_bytes(GUIDE_V2, collection=collection_name, source="a.md")
    assert second.outcome == "replaced" and second.document_id == first.document_id
    chunks = _chunks(service, collection_name, first.document_id)
    assert len(chunks) == second.chunks
    assert all("bootstrap" not in c.text for c in chunks)
    assert service.store.collection_info(collection_name).count == second.chunks


def test_delete_removes_every_chunk_and_leaves_tombstone(service: IngestService, collection_name: str) -> None:
    kept = service.ingest_bytes(GUIDE_V2, collection=collection_name, source="keep.md")
    gone = service.ingest_bytes(GUIDE_V1, collection=collection_name, source="gone.md")
    result = service.delete_document(collection_name, gone.document_id)
    assert result.outcome == "deleted" and result.chunks == gone.chunks
    assert _chunks(service, collection_name, gone.document_id) == []
    assert len(_chunks(service, collection_name, kept.document_id)) == kept.chunks
    record = service.registry.get(gone.document_id)
    assert record is not None and record.deleted
    with pytest.raises(DocumentNotFoundError):
        service.delete_document(collection_name, "nope")


def test_out_of_order_sequencers_never_resurrect(service: IngestService, collection_name: str) -> None:
    new = service.ingest_bytes(
        GUIDE_V2, collection=collection_name, source="s3://b/k.md", sequencer="0055AED6DCD90281E6"
    )
    stale = service.ingest_bytes(
        GUIDE_V1, collection=collection_name, source="s3://b/k.md", sequencer="0055AED6DCD90281E5"
    )
    assert stale.outcome == "skipped"
    assert all("bootstrap" not in c.text for c in _chunks(service, collection_name, new.document_id))
    service.delete_source(collection_name, "s3://b/k.md", sequencer="0055AED6DCD90281E7")
    late = service.ingest_bytes(
        GUIDE_V1, collection=collection_name, source="s3://b/k.md", sequencer="0055AED6DCD90281E6"
    )
    assert late.outcome == "skipped"
    assert _chunks(service, collection_name, new.document_id) == []


def test_crash_between_upsert_and_commit_is_repaired_by_retry(service: IngestService, collection_name: str) -> None:
    first = service.ingest_bytes(GUIDE_V1, collection=collection_name, source="a.md")
    original_put = service.registry.put

    def crash(_record: Any) -> None:
        raise RuntimeError("simulated crash before the registry commit")

    service.registry.put = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        service.ingest_bytes(GUIDE_V2, collection=collection_name, source="a.md")
    service.registry.put = original_put  # type: ignore[method-assign]
    retry = service.ingest_bytes(GUIDE_V2, collection=collection_name, source="a.md")
    assert retry.outcome == "replaced"
    chunks = _chunks(service, collection_name, first.document_id)
    assert len(chunks) == retry.chunks and all("bootstrap" not in c.text for c in chunks)


def test_bad_inputs_are_typed_errors(service: IngestService, collection_name: str) -> None:
    with pytest.raises(ParseError):
        service.ingest_bytes(b"", collection=collection_name, source="empty.txt")
    with pytest.raises(ParseError):
        service.ingest_bytes(b"\x00\x01\x02garbage" * 100, collection=collection_name, source="x.txt")
    with pytest.raises(ValidationError):
        service.ingest_bytes(b"hello", collection=collection_name, source="x.txt", metadata={"document_id": "evil"})
    with pytest.raises(ValidationError):
        service.ingest_bytes(b"hello", collection="bad name!", source="x.txt")


@pytest.mark.parametrize("strategy", ["semantic", "recursive", "fixed"])
def test_every_strategy_indexes(service: IngestService, collection_name: str, strategy: str) -> None:
    result = service.ingest_bytes(GUIDE_V1 * 20, collection=collection_name, source="big.md", strategy=strategy)
    assert result.chunks == len(_chunks(service, collection_name, result.document_id)) > 1


def test_bulk_ingest_matches_one_by_one(service: IngestService, collection_name: str, embedder: Any) -> None:
    """ingest_many: same chunks, outcomes and registry as ingest_bytes, one write per batch."""
    from knowledgebeast.ingest import IngestItem

    service.ingest_bytes(GUIDE_V1, collection=collection_name, source="kept.md")
    service.ingest_bytes(GUIDE_V1, collection=collection_name, source="changed.md")
    version = service.store.collection_metadata(collection_name)[VERSION_KEY]
    items = [
        IngestItem(GUIDE_V1, "kept.md"),  # unchanged: skipped before any write
        IngestItem(GUIDE_V2, "changed.md"),  # replaced: the old version's chunks must go
        IngestItem(b"Backups run hourly and are kept for a week.", "new.txt", metadata={"team": "ops"}),
    ]
    results = service.ingest_many(items, collection=collection_name)
    assert [r.outcome for r in results] == ["unchanged", "replaced", "indexed"]
    assert service.store.collection_metadata(collection_name)[VERSION_KEY] != version  # bumped once
    changed = _chunks(service, collection_name, results[1].document_id)
    assert len(changed) == results[1].chunks and all("bootstrap" not in c.text for c in changed)
    (new,) = _chunks(service, collection_name, results[2].document_id)
    assert new.metadata["team"] == "ops" and new.text.startswith("Backups")
    one_by_one = embedder.embed(["new.txt\nBackups run hourly and are kept for a week."])
    stored = service.store.export_page(collection_name, offset=0, limit=100).chunks
    vector = next(c.embedding for c in stored if c.id == new.id)
    assert float(one_by_one[0] @ vector) > 0.9999  # batching changed nothing the model computes
    assert service.registry.get(results[2].document_id).chunk_count == 1  # type: ignore[union-attr]
    again = service.ingest_many(items[1:], collection=collection_name)
    assert [r.outcome for r in again] == ["unchanged", "unchanged"]
