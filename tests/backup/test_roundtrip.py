"""Backup -> wipe -> restore gives back the same knowledge base: collections, chunks, registry, answers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledgebeast.backup.codec import decode_part
from knowledgebeast.backup.export import BackupService
from knowledgebeast.backup.manifest import find_latest, load_manifest
from knowledgebeast.backup.restore import restore_backup
from knowledgebeast.backup.storage import ScopedBlobStore
from knowledgebeast.backup.verify import capture_top_ids, sample_queries, verify_backup, verify_restored
from knowledgebeast.ingest import VERSION_KEY
from knowledgebeast.query import QueryService
from knowledgebeast.registry import REGISTRY_COLLECTION, DocumentRegistry
from tests.backup.conftest import Source
from tests.backup.helpers import DOCS_COLLECTION, VECTORS_COLLECTION, snapshot


@pytest.fixture(params=["embedded", "server"])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """The wiped store: a new embedded store, or a second, empty `chroma run` server."""
    if request.param == "embedded":
        yield request.getfixturevalue("empty_store")
        return
    from knowledgebeast.store.chroma import ChromaStore
    from tests.utils.servers import start_chroma

    server = start_chroma(tmp_path / "target-server")
    yield ChromaStore.http("127.0.0.1", server.port)
    server.stop()


def test_backup_restore_round_trip(source: Source, s3_blobs: Any, target: Any, embedder: Any) -> None:
    before = snapshot(source.store)
    result = BackupService(source.store, s3_blobs, page_size=300).run()
    assert result.complete and not result.changed_collections
    backup = ScopedBlobStore(s3_blobs, find_latest(s3_blobs) or "")
    assert verify_backup(backup).ok
    manifest = load_manifest(backup)
    assert manifest.collections[0].name == REGISTRY_COLLECTION
    assert manifest.model_id == embedder.model_id and manifest.dimension == embedder.dimension
    assert {e.name: e.count for e in manifest.collections} == {n: len(s.chunks) for n, s in before.items()}

    # The parts hold exactly what the store exported, bit for bit.
    for entry in manifest.collections:
        for part in entry.parts:
            for chunk in decode_part(backup.get(part.key)):
                exported = before[entry.name].chunks[chunk.id]
                assert chunk.embedding is not None and exported.embedding is not None
                assert chunk.embedding.tobytes() == exported.embedding.tobytes()
                assert (chunk.text, chunk.metadata) == (exported.text, exported.metadata)

    samples = capture_top_ids(QueryService(source.store, embedder), sample_queries(backup, manifest, 6))
    assert len(samples) == 6 and all(s.expected_top_id for s in samples)

    restored = restore_backup(target, backup)
    assert restored.chunks == manifest.total_count

    after = snapshot(target)
    assert set(after) == set(before)
    for name, original in before.items():
        copy = after[name]
        assert {k: v for k, v in copy.metadata.items() if k != VERSION_KEY} == {
            k: v for k, v in original.metadata.items() if k != VERSION_KEY
        }
        assert sorted(copy.chunks) == sorted(original.chunks)
        for chunk_id, chunk in original.chunks.items():
            twin = copy.chunks[chunk_id]
            assert (twin.text, twin.metadata) == (chunk.text, chunk.metadata)
            assert twin.embedding is not None and chunk.embedding is not None
            # Chroma's cosine space re-normalises on every write: stored values move by an ulp or two.
            np.testing.assert_array_max_ulp(twin.embedding, chunk.embedding, maxulp=4)
    assert after[DOCS_COLLECTION].metadata[VERSION_KEY] != before[DOCS_COLLECTION].metadata[VERSION_KEY]
    assert len(after[VECTORS_COLLECTION].chunks) > 1000

    assert DocumentRegistry(target).list(DOCS_COLLECTION) == DocumentRegistry(source.store).list(DOCS_COLLECTION)
    report = verify_restored(target, manifest, QueryService(target, embedder), samples)
    assert report.ok, report.problems
    assert report.queries_checked == 6


def test_verify_restored_reports_differences(source: Source, s3_blobs: Any, empty_store: Any, embedder: Any) -> None:
    BackupService(source.store, s3_blobs).run()
    backup = ScopedBlobStore(s3_blobs, find_latest(s3_blobs) or "")
    manifest = load_manifest(backup)
    samples = capture_top_ids(QueryService(source.store, embedder), sample_queries(backup, manifest, 2))
    restore_backup(empty_store, backup)
    empty_store.delete_ids(VECTORS_COLLECTION, ["v-00000"])
    wrong = [type(samples[0])(samples[0].collection, samples[0].text, "not-the-top-id")]
    report = verify_restored(empty_store, manifest, QueryService(empty_store, embedder), wrong)
    assert not report.ok
    assert any(VECTORS_COLLECTION in p for p in report.problems)
    assert any("not-the-top-id" in p for p in report.problems)
