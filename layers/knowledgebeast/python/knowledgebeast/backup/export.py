"""Backups: export every collection, page by page, into checksummed parts, resumable across runs.

Guarantees:
- a backup is complete only when ``manifest.json`` and then ``_COMPLETE`` are written, after every
  part; readers ignore anything without the marker;
- with a time budget (a Lambda's remaining time) the run stops between pages, keeps its cursor in
  ``state/in-progress.json`` (updated after every part, so even a killed run loses one page at
  most) and reports "incomplete"; the next run resumes from the cursor. Each run exports at least
  one page, so a backup always progresses;
- the registry is exported first and restored last: if ingest runs during a backup, the registry
  copy can only be *older* than the chunks, so a re-ingest redoes documents instead of skipping
  them. A collection whose count or version moved while exported is flagged in the manifest;
- a backup started on a UTC day with no complete daily backup yet is "daily" (unless the caller
  says otherwise), every other one "hourly". Retention is the bucket's lifecycle rules by prefix;
  this service only ever deletes its own in-progress state.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from knowledgebeast.backup.codec import encode_part, sha256_hex
from knowledgebeast.backup.manifest import (
    COMPLETE_KEY,
    MANIFEST_KEY,
    BackupKind,
    CollectionEntry,
    Manifest,
    PartInfo,
    new_backup_id,
    part_key,
)
from knowledgebeast.backup.state import BackupState, clear_state, load_state, save_state
from knowledgebeast.backup.storage import BlobStoreProtocol, ScopedBlobStore
from knowledgebeast.errors import CollectionNotFoundError
from knowledgebeast.record_format import VERSION_KEY
from knowledgebeast.registry import REGISTRY_COLLECTION
from knowledgebeast.store.base import CollectionInfo, VectorStoreProtocol

logger = logging.getLogger(__name__)
DEFAULT_PAGE_SIZE = 500


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class BackupResult:
    backup_id: str
    kind: str
    status: Literal["complete", "incomplete"]
    location: str
    collections: int
    chunks: int
    parts: int
    bytes: int
    seconds: float
    resumed: bool
    changed_collections: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return self.status == "complete"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class BackupService:
    def __init__(
        self,
        store: VectorStoreProtocol,
        blobs: BlobStoreProtocol,
        *,
        page_size: int = DEFAULT_PAGE_SIZE,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.store = store
        self.blobs = blobs
        self.page_size = max(1, page_size)
        self.clock = clock

    def run(self, *, kind: BackupKind | None = None, deadline_seconds: float | None = None) -> BackupResult:
        """Resume the unfinished backup if there is one (its kind wins), else start one; stop between
        pages once ``deadline_seconds`` have passed."""
        started = time.monotonic()
        state = load_state(self.blobs)
        resumed = state is not None
        if state is not None and kind and kind != state.manifest.kind:
            logger.info("resuming the unfinished backup; requested kind ignored", extra={"kind": kind})
        state = state or self._start(kind)
        backup = ScopedBlobStore(self.blobs, state.manifest.prefix)
        pages = 0
        while not state.done:
            if pages and deadline_seconds is not None and time.monotonic() - started >= deadline_seconds:
                return self._result(state.manifest, "incomplete", backup, started, resumed)
            self._export_page(state, backup)
            save_state(self.blobs, state)
            pages += 1
        self._finish(state.manifest, backup)
        return self._result(state.manifest, "complete", backup, started, resumed)

    def _start(self, kind: BackupKind | None) -> BackupState:
        now = self.clock()
        infos = sorted(self.store.list_collections(), key=lambda i: (i.name != REGISTRY_COLLECTION, i.name))
        entries = [
            CollectionEntry(i.name, dict(i.metadata), i.count, str(i.metadata.get(VERSION_KEY, ""))) for i in infos
        ]
        model_id, dimension = _model_of(infos)
        manifest = Manifest(
            new_backup_id(now), now.isoformat(), kind or self._default_kind(now), model_id, dimension, entries
        )
        return BackupState(manifest)

    def _default_kind(self, now: datetime) -> BackupKind:
        done_today = any(key.endswith("/" + COMPLETE_KEY) for key in self.blobs.list(f"daily/{now:%Y%m%d}"))
        return "hourly" if done_today else "daily"

    def _export_page(self, state: BackupState, backup: BlobStoreProtocol) -> None:
        entry = state.manifest.collections[state.collection]
        try:
            page = self.store.export_page(entry.name, offset=state.offset, limit=self.page_size)
        except CollectionNotFoundError:
            logger.warning("collection deleted during backup: left out", extra={"collection": entry.name})
            del state.manifest.collections[state.collection]
            state.offset = 0
            return
        if page.chunks:
            data = encode_part(page.chunks)
            key = part_key(entry.name, len(entry.parts))
            backup.put(key, data)
            entry.parts.append(PartInfo(key, sha256_hex(data), len(page.chunks), len(data)))
            entry.count += len(page.chunks)
            first = page.chunks[0].embedding
            entry.dimension = entry.dimension or (int(first.shape[-1]) if first is not None else None)
        if page.next_offset is not None:
            state.offset = page.next_offset
            return
        self._close(entry)
        state.collection += 1
        state.offset = 0

    def _close(self, entry: CollectionEntry) -> None:
        try:
            info = self.store.collection_info(entry.name)
            moved = (info.count, str(info.metadata.get(VERSION_KEY, ""))) != (entry.expected_count, entry.version)
        except CollectionNotFoundError:
            moved = True
        entry.changed_during_export = moved or entry.count != entry.expected_count
        entry.complete = True
        if entry.changed_during_export:
            logger.warning("collection changed during backup", extra={"collection": entry.name, "count": entry.count})

    def _finish(self, manifest: Manifest, backup: BlobStoreProtocol) -> None:
        manifest.status = "complete"
        manifest.completed_at = self.clock().isoformat()
        data = manifest.to_json()
        backup.put(MANIFEST_KEY, data)
        backup.put(COMPLETE_KEY, sha256_hex(data).encode())
        clear_state(self.blobs)

    def _result(
        self,
        manifest: Manifest,
        status: Literal["complete", "incomplete"],
        backup: BlobStoreProtocol,
        started: float,
        resumed: bool,
    ) -> BackupResult:
        result = BackupResult(
            backup_id=manifest.backup_id,
            kind=manifest.kind,
            status=status,
            location=backup.url(),
            collections=len(manifest.collections),
            chunks=manifest.total_count,
            parts=manifest.part_count,
            bytes=manifest.total_bytes,
            seconds=round(time.monotonic() - started, 3),
            resumed=resumed,
            changed_collections=[e.name for e in manifest.collections if e.changed_during_export],
        )
        logger.info("backup run", extra={k: v for k, v in result.to_dict().items() if k != "changed_collections"})
        return result


def _model_of(infos: list[CollectionInfo]) -> tuple[str | None, int | None]:
    """The embedding model of the user collections when they agree on one (ingest records it)."""
    models = {str(i.metadata["kb_model"]) for i in infos if "kb_model" in i.metadata}
    dims = {int(i.metadata["kb_dimension"]) for i in infos if "kb_dimension" in i.metadata}
    return (models.pop() if len(models) == 1 else None), (dims.pop() if len(dims) == 1 else None)
