"""Restore refuses, before writing anything: corrupted or missing parts, unfinished backups, and
targets that already hold the backed-up collections (unless forced)."""

from __future__ import annotations

from typing import Any

import pytest

from knowledgebeast.backup.export import BackupService
from knowledgebeast.backup.manifest import COMPLETE_KEY, find_latest, load_manifest
from knowledgebeast.backup.restore import restore_backup
from knowledgebeast.backup.storage import ScopedBlobStore
from knowledgebeast.backup.verify import verify_backup
from knowledgebeast.errors import BackupError
from tests.backup.conftest import Source
from tests.backup.helpers import BUCKET, VECTORS_COLLECTION, flip_byte


@pytest.fixture
def backup(source: Source, s3_blobs: Any) -> Any:
    BackupService(source.store, s3_blobs, page_size=400).run()
    return ScopedBlobStore(s3_blobs, find_latest(s3_blobs) or "")


def _last_part(backup: Any) -> str:
    manifest = load_manifest(backup)
    return str(manifest.collections[-1].parts[-1].key)


def test_corrupted_part_is_refused_and_nothing_is_written(backup: Any, s3: Any, empty_store: Any) -> None:
    key = _last_part(backup)  # the last part: everything before it would otherwise be restored
    s3_key = backup.url(key).removeprefix(f"s3://{BUCKET}/")
    data = s3.get_object(Bucket=BUCKET, Key=s3_key)["Body"].read()
    s3.put_object(Bucket=BUCKET, Key=s3_key, Body=flip_byte(data, 40))

    with pytest.raises(BackupError, match=f"part {key} is corrupt") as caught:
        restore_backup(empty_store, backup)
    assert caught.value.details == {"part": key}
    assert empty_store.list_collections() == []

    report = verify_backup(backup)
    assert not report.ok and len(report.problems) == 1 and key in report.problems[0]


def test_missing_part_is_refused(backup: Any, empty_store: Any) -> None:
    key = _last_part(backup)
    backup.delete(key)
    with pytest.raises(BackupError, match=key):
        restore_backup(empty_store, backup)
    assert empty_store.list_collections() == []


def test_unfinished_backup_is_refused(backup: Any, empty_store: Any) -> None:
    backup.delete(COMPLETE_KEY)
    with pytest.raises(BackupError, match="not complete"):
        restore_backup(empty_store, backup)
    assert not verify_backup(backup).ok
    assert empty_store.list_collections() == []


def test_existing_data_needs_force(backup: Any, empty_store: Any) -> None:
    restore_backup(empty_store, backup)
    empty_store.delete_ids(VECTORS_COLLECTION, ["v-00001", "v-00002"])
    with pytest.raises(BackupError, match="already holds data") as caught:
        restore_backup(empty_store, backup)
    assert VECTORS_COLLECTION in caught.value.details["collections"]

    result = restore_backup(empty_store, backup, force=True)
    manifest = load_manifest(backup)
    assert VECTORS_COLLECTION in result.replaced
    assert {i.name: i.count for i in empty_store.list_collections()} == {e.name: e.count for e in manifest.collections}


def test_empty_existing_collections_are_not_a_conflict(backup: Any, empty_store: Any) -> None:
    """A fresh deployment may already have created the (empty) registry: that is still an empty store."""
    from knowledgebeast.registry import REGISTRY_COLLECTION

    empty_store.ensure_collection(REGISTRY_COLLECTION, {"kb_role": "registry"})
    result = restore_backup(empty_store, backup)
    assert result.replaced == [] and result.collections[REGISTRY_COLLECTION] > 0
