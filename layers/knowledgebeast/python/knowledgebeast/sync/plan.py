"""Compare a source listing with the document registry: what to add, change, keep and delete.

An entry is **unchanged** when the registry holds a live record for its (collection, source) whose
stamp matches the listing (same ETag or sha256, same size): nothing is downloaded for it. That is
also what makes a sync resumable: every document ingested before an interruption was committed
with its stamp, so the next run finds it unchanged and does only the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from knowledgebeast.registry import DocumentRecord
from knowledgebeast.sync.sources import SourceEntry


@dataclass
class SyncPlan:
    added: list[SourceEntry] = field(default_factory=list)  # no live record: "missing" from the index
    changed: list[SourceEntry] = field(default_factory=list)  # record of another version: "stale"
    unchanged: list[SourceEntry] = field(default_factory=list)
    orphaned: list[DocumentRecord] = field(default_factory=list)  # record whose source is gone
    invalid: list[SourceEntry] = field(default_factory=list)  # listed but not indexable (bad collection)

    @property
    def compared(self) -> int:
        return len(self.added) + len(self.changed) + len(self.unchanged) + len(self.invalid)

    @property
    def drift(self) -> int:
        return len(self.added) + len(self.changed) + len(self.orphaned)


def matches(record: DocumentRecord, entry: SourceEntry) -> bool:
    stamp = entry.stamp
    return (
        not record.deleted
        and bool(record.source_etag)
        and record.source_etag == stamp.etag
        and (stamp.size < 0 or record.source_size == stamp.size)
    )


def plan_sync(
    entries: Iterable[SourceEntry], records: Iterable[DocumentRecord], *, scope: str, collection: str | None = None
) -> SyncPlan:
    """``records`` are live registry records; those under ``scope`` (and ``collection``) are compared."""
    known = {
        (r.collection, r.source): r
        for r in records
        if not r.deleted and r.source.startswith(scope) and (collection is None or r.collection == collection)
    }
    plan = SyncPlan()
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        if entry.error:
            plan.invalid.append(entry)
            continue
        key = (entry.collection, entry.source)
        seen.add(key)
        record = known.get(key)
        if record is None:
            plan.added.append(entry)
        elif matches(record, entry):
            plan.unchanged.append(entry)
        else:
            plan.changed.append(entry)
    plan.orphaned = [record for key, record in sorted(known.items()) if key not in seen]
    return plan
