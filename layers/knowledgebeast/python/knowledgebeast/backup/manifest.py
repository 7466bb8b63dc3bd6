"""What a backup contains, and where its objects live.

The manifest lists every collection with its metadata and every part with its sha256, record count
and size, so a backup can be verified and restored without touching the store that produced it.
Part keys are relative to the backup's own folder: a backup copied elsewhere stays valid.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, Literal

from knowledgebeast.backup.codec import PART_SUFFIX, sha256_hex
from knowledgebeast.backup.storage import BlobStoreProtocol, ScopedBlobStore, open_blob_store
from knowledgebeast.errors import BackupError
from knowledgebeast.store.base import Metadata

FORMAT_VERSION = 1
MANIFEST_KEY = "manifest.json"
COMPLETE_KEY = "_COMPLETE"
STATE_KEY = "state/in-progress.json"
KINDS = ("hourly", "daily")

BackupKind = Literal["hourly", "daily"]
Status = Literal["in_progress", "complete"]


@dataclass
class PartInfo:
    key: str
    sha256: str
    count: int
    bytes: int


@dataclass
class CollectionEntry:
    """One collection. ``changed_during_export`` flags a collection written to while it was being
    exported (count or version moved): that collection's copy is fuzzy and its count may differ."""

    name: str
    metadata: Metadata
    expected_count: int = 0
    version: str = ""
    count: int = 0
    dimension: int | None = None
    parts: list[PartInfo] = field(default_factory=list)
    complete: bool = False
    changed_during_export: bool = False


@dataclass
class Manifest:
    backup_id: str
    created_at: str
    kind: BackupKind
    model_id: str | None = None
    dimension: int | None = None
    collections: list[CollectionEntry] = field(default_factory=list)
    status: Status = "in_progress"
    completed_at: str | None = None
    format_version: int = FORMAT_VERSION

    @property
    def prefix(self) -> str:
        return backup_prefix(self.kind, self.backup_id)

    @property
    def total_count(self) -> int:
        return sum(entry.count for entry in self.collections)

    @property
    def total_bytes(self) -> int:
        return sum(part.bytes for entry in self.collections for part in entry.parts)

    @property
    def part_count(self) -> int:
        return sum(len(entry.parts) for entry in self.collections)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True, ensure_ascii=False).encode()

    @classmethod
    def from_dict(cls, raw: Any) -> Manifest:
        version = raw.get("format_version") if isinstance(raw, dict) else None
        if version != FORMAT_VERSION:
            raise BackupError(f"unsupported backup format version {version!r} (this build reads {FORMAT_VERSION})")
        try:
            collections = [
                CollectionEntry(**{**item, "parts": [PartInfo(**part) for part in item["parts"]]})
                for item in raw["collections"]
            ]
            manifest = cls(**{**raw, "collections": collections})
        except (KeyError, TypeError) as exc:
            raise BackupError(f"backup manifest is invalid: {exc}") from exc
        if manifest.kind not in KINDS or manifest.status not in ("in_progress", "complete"):
            raise BackupError("backup manifest is invalid: unknown kind or status")
        return manifest

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        try:
            raw = json.loads(data)
        except ValueError as exc:
            raise BackupError(f"backup manifest is not valid JSON: {exc}") from exc
        return cls.from_dict(raw)


def new_backup_id(now: datetime) -> str:
    """Sorts by time (UTC, second precision); the random tail keeps two runs in one second apart."""
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def backup_prefix(kind: str, backup_id: str) -> str:
    return f"{kind}/{backup_id}/"


def part_key(collection: str, number: int) -> str:
    return f"parts/{collection}/{number:06d}{PART_SUFFIX}"


def load_manifest(backup: BlobStoreProtocol, *, require_complete: bool = True) -> Manifest:
    """The manifest of the backup folder ``backup``; by default only of a finished backup, i.e. one
    whose ``_COMPLETE`` marker exists and holds the sha256 of this very manifest."""
    data = backup.get(MANIFEST_KEY)
    manifest = Manifest.from_json(data)
    if require_complete:
        marker = backup.get(COMPLETE_KEY).decode(errors="replace").strip() if backup.exists(COMPLETE_KEY) else ""
        if manifest.status != "complete" or marker != sha256_hex(data):
            raise BackupError(
                f"backup {backup.url()} is not complete (no matching {COMPLETE_KEY} marker)",
                details={"backup": backup.url()},
            )
    return manifest


def find_latest(root: BlobStoreProtocol) -> str | None:
    """Prefix (``kind/id/``) of the newest complete backup under a destination, by backup id."""
    done = [key[: -len(COMPLETE_KEY)] for kind in KINDS for key in root.list(f"{kind}/") if key.endswith(COMPLETE_KEY)]
    return max(done, key=lambda prefix: prefix.split("/")[1], default=None)


def open_backup(location: str, *, s3_client: Any | None = None) -> BlobStoreProtocol:
    """A backup folder, or ``<destination>/latest`` for the newest complete backup there."""
    if location.rstrip("/").endswith("/latest") or location == "latest":
        root = open_blob_store(location.rstrip("/")[: -len("latest")] or ".", s3_client=s3_client)
        prefix = find_latest(root)
        if prefix is None:
            raise BackupError(f"no complete backup under {root.url()}", details={"destination": root.url()})
        return ScopedBlobStore(root, prefix)
    return open_blob_store(location, s3_client=s3_client)
