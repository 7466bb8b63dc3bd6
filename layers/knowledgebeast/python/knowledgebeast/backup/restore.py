"""Restore a complete backup into a store that does not hold its collections yet.

Guarantees: nothing is written before every part has been downloaded and checked against the
manifest (sha256, size, record count), so a corrupted or missing part is refused with a
:class:`BackupError` naming it and the store is left untouched; a collection that already holds
data is refused unless ``force`` (which deletes it first); the registry is written last, because
it is the ingest commit point and must never claim chunks that are not restored yet. Collections
get a fresh write version, so no cached answer from before the restore can be served.
"""

from __future__ import annotations

import logging
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from knowledgebeast.backup.codec import decode_part
from knowledgebeast.backup.manifest import CollectionEntry, Manifest, load_manifest
from knowledgebeast.backup.storage import BlobStoreProtocol
from knowledgebeast.backup.verify import check_part
from knowledgebeast.errors import BackupError
from knowledgebeast.record_format import VERSION_KEY
from knowledgebeast.registry import REGISTRY_COLLECTION
from knowledgebeast.store.base import Metadata, VectorStoreProtocol

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RestoreResult:
    backup_id: str
    collections: dict[str, int]
    chunks: int
    replaced: list[str]
    seconds: float


def restore_backup(
    store: VectorStoreProtocol, backup: BlobStoreProtocol, *, force: bool = False, work_dir: Path | None = None
) -> RestoreResult:
    """Restore the backup folder ``backup``; parts are spooled to ``work_dir`` (a temp dir by default)."""
    started = time.monotonic()
    manifest = load_manifest(backup)
    occupied = _occupied(store, manifest)
    if occupied and not force:
        raise BackupError(
            f"the target store already holds data in {', '.join(occupied)}: restore into an empty store "
            "or pass --force to replace those collections",
            details={"collections": occupied},
        )
    with tempfile.TemporaryDirectory(dir=work_dir, prefix="kb-restore-") as tmp:
        spooled = _download_and_check(backup, manifest, Path(tmp))
        for name in occupied:
            store.delete_collection(name)
        restored: dict[str, int] = {}
        for entry in sorted(manifest.collections, key=lambda e: e.name == REGISTRY_COLLECTION):
            restored[entry.name] = _restore_collection(store, entry, spooled)
    result = RestoreResult(manifest.backup_id, restored, sum(restored.values()), occupied, time.monotonic() - started)
    logger.info("backup restored", extra={"backup_id": result.backup_id, "chunks": result.chunks})
    return result


def _occupied(store: VectorStoreProtocol, manifest: Manifest) -> list[str]:
    wanted = {entry.name for entry in manifest.collections}
    return sorted(info.name for info in store.list_collections() if info.name in wanted and info.count > 0)


def _download_and_check(backup: BlobStoreProtocol, manifest: Manifest, folder: Path) -> dict[str, Path]:
    for entry in manifest.collections:
        if entry.count != sum(part.count for part in entry.parts):
            raise BackupError(
                f"backup manifest counts of {entry.name} do not add up", details={"collection": entry.name}
            )
    spooled: dict[str, Path] = {}
    for number, part in enumerate(p for entry in manifest.collections for p in entry.parts):
        try:
            data = backup.get(part.key)
        except BackupError as exc:
            raise BackupError(
                f"backup part {part.key} is unreadable: {exc.message}", details={"part": part.key}
            ) from exc
        check_part(data, part)
        path = folder / f"{number:06d}.part"
        path.write_bytes(data)
        spooled[part.key] = path
    return spooled


def _restore_collection(store: VectorStoreProtocol, entry: CollectionEntry, spooled: dict[str, Path]) -> int:
    metadata: Metadata = dict(entry.metadata)
    if entry.name != REGISTRY_COLLECTION:
        metadata[VERSION_KEY] = uuid.uuid4().hex
    store.ensure_collection(entry.name, metadata)
    if metadata:  # get-or-create keeps an existing (empty) collection's metadata: set it explicitly
        store.set_collection_metadata(entry.name, metadata)
    for part in entry.parts:
        chunks = decode_part(spooled[part.key].read_bytes(), name=part.key)
        vectors = np.stack([np.asarray(c.embedding, dtype=np.float32) for c in chunks])
        store.upsert(
            entry.name, [c.id for c in chunks], vectors, [c.text for c in chunks], [c.metadata for c in chunks]
        )
    count = store.collection_info(entry.name).count
    if count != entry.count and not entry.changed_during_export:
        raise BackupError(
            f"restored {count} chunks into {entry.name}, the backup holds {entry.count}",
            details={"collection": entry.name, "restored": count, "expected": entry.count},
        )
    return count
