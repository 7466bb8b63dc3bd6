"""Apply a sync plan in this process: ingest added and changed entries, delete orphans if asked.

Each document is committed on its own (registry record with the source stamp), so an interrupted
sync loses at most the document in flight and the next run resumes from the registry. One failing
document never stops the others: it is reported with its reason and the run exits non-zero.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Protocol

from knowledgebeast.errors import KnowledgeBeastError
from knowledgebeast.ingest import IngestService
from knowledgebeast.registry import DocumentRecord
from knowledgebeast.sync.plan import SyncPlan
from knowledgebeast.sync.sources import SourceEntry, SourceProtocol

logger = logging.getLogger(__name__)
#: (summary counter, what to do): an entry to ingest or a registry record to delete.
Action = tuple[str, SourceEntry | DocumentRecord]


class ProgressProtocol(Protocol):
    """What the runner needs of a progress bar (``tqdm(total=n)`` fits)."""

    def update(self, n: int = 1) -> object: ...

    def close(self) -> None: ...


class _NoProgress:
    def update(self, n: int = 1) -> None:
        pass

    def close(self) -> None:
        pass


@dataclass
class SyncSummary:
    compared: int = 0
    added: int = 0
    changed: int = 0
    unchanged: int = 0
    deleted: int = 0
    skipped: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    compare_seconds: float = 0.0
    apply_seconds: float = 0.0

    @property
    def ingested(self) -> int:
        return self.added + self.changed

    def line(self) -> str:
        rate = self.compared / self.compare_seconds if self.compare_seconds else 0.0
        docs = self.ingested / self.apply_seconds if self.apply_seconds else 0.0
        return (
            f"compared={self.compared} added={self.added} changed={self.changed} unchanged={self.unchanged} "
            f"deleted={self.deleted} skipped={self.skipped} failed={len(self.failed)} "
            f"compare_seconds={self.compare_seconds:.2f} apply_seconds={self.apply_seconds:.2f} "
            f"objects_per_s={rate:.1f} documents_per_s={docs:.2f}"
        )


class SyncRunner:
    """``progress`` wraps the list of actions (e.g. a tqdm bar); identity by default."""

    def __init__(
        self,
        ingest: IngestService,
        source: SourceProtocol,
        *,
        workers: int = 4,
        progress: Callable[[int], ProgressProtocol] | None = None,
    ) -> None:
        self.ingest = ingest
        self.source = source
        self.workers = max(1, workers)
        self.progress = progress or (lambda total: _NoProgress())

    def apply(self, plan: SyncPlan, *, delete: bool, summary: SyncSummary) -> SyncSummary:
        """Run the plan's actions on ``workers`` threads (ingest is latency-bound on store and S3)."""
        started = time.perf_counter()
        summary.compared, summary.unchanged = plan.compared, len(plan.unchanged)
        summary.failed.extend((entry.source, entry.error) for entry in plan.invalid)
        actions: list[Action] = [("added", e) for e in plan.added]
        actions += [("changed", e) for e in plan.changed]
        if delete:
            actions += [("deleted", record) for record in plan.orphaned]
        bar = self.progress(len(actions))
        try:
            with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sync") as pool:
                futures = {pool.submit(self._apply_one, item): (kind, item) for kind, item in actions}
                for future in as_completed(futures):
                    kind, item = futures[future]
                    outcome, error = future.result()
                    if error:
                        summary.failed.append((_source_of(item), error))
                    else:
                        counter = outcome if outcome in ("skipped", "unchanged") else kind
                        setattr(summary, counter, getattr(summary, counter) + 1)
                    bar.update(1)
        finally:
            bar.close()
        summary.apply_seconds = time.perf_counter() - started
        return summary

    def _apply_one(self, item: SourceEntry | DocumentRecord) -> tuple[str, str]:
        """(outcome, "") or ("", reason): one failing document never stops the others."""
        try:
            return (self._delete(item) if isinstance(item, DocumentRecord) else self._ingest(item)), ""
        except KnowledgeBeastError as exc:
            return "", exc.message
        except Exception as exc:  # transient (store, S3): reported, the next run retries it
            logger.warning("sync action failed", extra={"source": _source_of(item), "error": repr(exc)})
            return "", f"{type(exc).__name__}: {exc}"

    def _ingest(self, entry: SourceEntry) -> str:
        check = self.ingest.version_check(entry.collection, entry.source)  # before the read: see versions.py
        fetched = self.source.read(entry)
        if fetched is None:
            return "skipped"  # gone since the listing: the next run sees it as orphaned
        result = self.ingest.ingest_bytes(
            fetched.data,
            collection=entry.collection,
            source=entry.source,
            filename=fetched.filename,
            media_type=fetched.media_type,
            metadata=fetched.metadata,
            stamp=fetched.stamp,
            check=check,
        )
        return result.outcome

    def _delete(self, record: DocumentRecord) -> str:
        check = self.ingest.version_check(record.collection, record.source)  # before the existence check
        if self.source.exists(record.source):
            return "skipped"  # back since the listing: the next run compares it again
        return self.ingest.delete_source(record.collection, record.source, check=check).outcome


def _source_of(item: object) -> str:
    return str(getattr(item, "source", item))
