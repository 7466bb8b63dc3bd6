"""A time-limited backup is never reported complete, resumes from its cursor and ends identical
to an uninterrupted one; a killed run loses at most one page; daily vs hourly; moving collections."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from knowledgebeast.backup.export import BackupService
from knowledgebeast.backup.manifest import COMPLETE_KEY, MANIFEST_KEY, STATE_KEY, find_latest, load_manifest
from knowledgebeast.backup.storage import LocalBlobStore, ScopedBlobStore
from knowledgebeast.backup.verify import verify_backup
from knowledgebeast.errors import BackupError
from tests.backup.conftest import Source


def _part_hashes(blobs: Any, prefix: str) -> dict[str, list[str]]:
    manifest = load_manifest(ScopedBlobStore(blobs, prefix))
    return {e.name: [p.sha256 for p in e.parts] for e in manifest.collections}


def test_interrupted_backup_resumes_from_cursor(source: Source, s3_blobs: Any, tmp_path: Path) -> None:
    total = sum(info.count for info in source.store.list_collections())
    service = BackupService(source.store, s3_blobs, page_size=100)

    first = service.run(deadline_seconds=0)
    assert first.status == "incomplete" and not first.complete
    assert first.parts == 1 and not first.resumed
    prefix = f"{first.kind}/{first.backup_id}/"
    assert s3_blobs.exists(STATE_KEY)
    assert not s3_blobs.exists(prefix + MANIFEST_KEY) and not s3_blobs.exists(prefix + COMPLETE_KEY)
    assert find_latest(s3_blobs) is None
    assert not verify_backup(ScopedBlobStore(s3_blobs, prefix)).ok
    with pytest.raises(BackupError, match=r"not complete|does not exist"):
        load_manifest(ScopedBlobStore(s3_blobs, prefix))

    second = service.run(deadline_seconds=0)
    assert (second.status, second.backup_id, second.parts, second.resumed) == ("incomplete", first.backup_id, 2, True)

    last = service.run()
    assert last.complete and last.resumed and last.backup_id == first.backup_id
    assert last.chunks == total
    assert not s3_blobs.exists(STATE_KEY)
    assert find_latest(s3_blobs) == prefix
    assert verify_backup(ScopedBlobStore(s3_blobs, prefix)).ok

    # An uninterrupted backup with the same page size produces byte-identical parts.
    local = LocalBlobStore(tmp_path / "oneshot")
    oneshot = BackupService(source.store, local, page_size=100).run()
    assert oneshot.chunks == total
    assert _part_hashes(local, f"{oneshot.kind}/{oneshot.backup_id}/") == _part_hashes(s3_blobs, prefix)


class _Crashing(LocalBlobStore):
    """Dies (like a Lambda hitting its hard timeout) on the n-th write of a part."""

    def __init__(self, root: Path, crash_on_part: int) -> None:
        super().__init__(root)
        self.parts_left = crash_on_part

    def put(self, key: str, data: bytes) -> None:
        if "/parts/" in key:
            self.parts_left -= 1
            if self.parts_left == 0:
                raise RuntimeError("killed")
        super().put(key, data)


def test_killed_run_resumes_from_last_saved_cursor(source: Source, tmp_path: Path) -> None:
    total = sum(info.count for info in source.store.list_collections())
    with pytest.raises(RuntimeError, match="killed"):
        BackupService(source.store, _Crashing(tmp_path, crash_on_part=5), page_size=100).run()
    result = BackupService(source.store, LocalBlobStore(tmp_path), page_size=100).run()
    assert result.complete and result.resumed and result.chunks == total
    assert verify_backup(ScopedBlobStore(LocalBlobStore(tmp_path), f"{result.kind}/{result.backup_id}")).ok


def _store_with_rows(tmp_path: Path, rows: int) -> Any:
    from knowledgebeast.store.chroma import ChromaStore

    store = ChromaStore.persistent(tmp_path / "chroma")
    store.ensure_collection("moving", {"kb_version": "v1"})
    vectors = np.random.default_rng(1).normal(size=(rows, 4)).astype(np.float32)
    store.upsert("moving", [f"r{i}" for i in range(rows)], vectors, ["t"] * rows, [{"i": i} for i in range(rows)])
    return store


def test_first_backup_of_a_utc_day_is_daily(tmp_path: Path) -> None:
    store = _store_with_rows(tmp_path, 3)
    blobs = LocalBlobStore(tmp_path / "dest")
    day = datetime(2026, 11, 15, 0, 5, tzinfo=UTC)
    kinds = [BackupService(store, blobs, clock=functools.partial(day.replace, hour=h)).run().kind for h in (0, 1, 23)]
    assert kinds == ["daily", "hourly", "hourly"]
    assert BackupService(store, blobs, clock=lambda: day.replace(day=16)).run().kind == "daily"
    assert BackupService(store, blobs, clock=lambda: day.replace(day=16)).run(kind="daily").kind == "daily"
    assert len(blobs.list("daily/20261116")) == 2 * 3  # two backups: one part, manifest, marker each


def test_collection_written_during_backup_is_flagged(tmp_path: Path) -> None:
    store = _store_with_rows(tmp_path, 30)
    blobs = LocalBlobStore(tmp_path / "dest")
    service = BackupService(store, blobs, page_size=10)
    assert service.run(deadline_seconds=0).status == "incomplete"
    store.upsert("moving", ["new"], np.ones((1, 4), dtype=np.float32), ["t"], [{"i": -1}])
    store.set_collection_metadata("moving", {"kb_version": "v2"})
    result = service.run()
    assert result.complete and result.changed_collections == ["moving"]
    manifest = load_manifest(ScopedBlobStore(blobs, f"{result.kind}/{result.backup_id}"))
    assert manifest.collections[0].changed_during_export
