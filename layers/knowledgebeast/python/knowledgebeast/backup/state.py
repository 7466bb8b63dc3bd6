"""The in-progress state of an unfinished backup: its manifest so far and the cursor.

Kept as one object (``state/in-progress.json``) next to the backups, outside the ``hourly/`` and
``daily/`` prefixes so lifecycle rules never expire it. It is rewritten after every part and
deleted once the backup is complete; an unreadable state is abandoned (the next run starts a new
backup) rather than blocking backups forever.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from knowledgebeast.backup.manifest import STATE_KEY, Manifest
from knowledgebeast.backup.storage import BlobStoreProtocol
from knowledgebeast.errors import BackupError

logger = logging.getLogger(__name__)


@dataclass
class BackupState:
    """``collection`` indexes ``manifest.collections``; ``offset`` is where its next page starts."""

    manifest: Manifest
    collection: int = 0
    offset: int = 0

    @property
    def done(self) -> bool:
        return self.collection >= len(self.manifest.collections)

    def to_json(self) -> bytes:
        entries = self.manifest.collections
        name = None if self.done else entries[self.collection].name
        cursor = {"collection": self.collection, "collection_name": name, "offset": self.offset}
        return json.dumps({"cursor": cursor, "manifest": self.manifest.to_dict()}, indent=1).encode()

    @classmethod
    def from_json(cls, data: bytes) -> BackupState:
        try:
            raw = json.loads(data)
            cursor = raw["cursor"]
            return cls(Manifest.from_dict(raw["manifest"]), int(cursor["collection"]), int(cursor["offset"]))
        except (ValueError, KeyError, TypeError) as exc:
            raise BackupError(f"backup state is invalid: {exc}") from exc


def load_state(blobs: BlobStoreProtocol) -> BackupState | None:
    if not blobs.exists(STATE_KEY):
        return None
    try:
        return BackupState.from_json(blobs.get(STATE_KEY))
    except BackupError as exc:
        logger.warning("unreadable backup state: starting a new backup", extra={"reason": exc.message})
        return None


def save_state(blobs: BlobStoreProtocol, state: BackupState) -> None:
    blobs.put(STATE_KEY, state.to_json())


def clear_state(blobs: BlobStoreProtocol) -> None:
    blobs.delete(STATE_KEY)
