"""Is a backup restorable, and did a restore give back the same knowledge base?

:func:`verify_backup` reads every object of a backup (manifest, marker, parts) and reports every
problem rather than the first, so an operator sees the whole damage at once. :func:`verify_restored`
compares a restored store with the manifest's counts and with answers captured before the loss:
sampled chunk texts must still bring back the same top result.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from knowledgebeast.backup.codec import decode_part, sha256_hex
from knowledgebeast.backup.manifest import Manifest, PartInfo, load_manifest
from knowledgebeast.backup.storage import BlobStoreProtocol
from knowledgebeast.errors import BackupError, KnowledgeBeastError
from knowledgebeast.registry import REGISTRY_COLLECTION
from knowledgebeast.store.base import StoredChunk, VectorStoreProtocol

if TYPE_CHECKING:
    from knowledgebeast.query import QueryService

MAX_SAMPLE_CHARS = 1000


def check_part(data: bytes, part: PartInfo) -> list[StoredChunk]:
    """The part's chunks, or a :class:`BackupError` naming the part if it does not match the manifest."""
    digest = sha256_hex(data)
    if digest != part.sha256 or len(data) != part.bytes:
        raise BackupError(
            f"backup part {part.key} is corrupt: sha256 {digest[:16]}... ({len(data)} bytes) does not match "
            f"the manifest's {part.sha256[:16]}... ({part.bytes} bytes)",
            details={"part": part.key},
        )
    chunks = decode_part(data, name=part.key)
    if len(chunks) != part.count:
        raise BackupError(
            f"backup part {part.key} holds {len(chunks)} chunks, not {part.count}", details={"part": part.key}
        )
    return chunks


@dataclass
class VerifyReport:
    location: str
    manifest: Manifest | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.manifest is not None and not self.problems

    def render(self) -> str:
        m = self.manifest
        head = f"{'OK' if self.ok else 'FAILED'}: {self.location}"
        if m is not None:
            head += f" ({m.kind} {m.backup_id}: {len(m.collections)} collections, {m.total_count} chunks, "
            head += f"{m.part_count} parts, {m.total_bytes} bytes)"
        return "\n".join([head, *(f"  problem: {p}" for p in self.problems)])


def verify_backup(backup: BlobStoreProtocol) -> VerifyReport:
    """Check the manifest is present and complete, and every part is present with matching sha256 and counts."""
    report = VerifyReport(backup.url())
    try:
        report.manifest = load_manifest(backup)
    except BackupError as exc:
        report.problems.append(exc.message)
        return report
    for entry in report.manifest.collections:
        if entry.count != sum(part.count for part in entry.parts):
            report.problems.append(f"collection {entry.name}: part counts do not add up to {entry.count}")
        for part in entry.parts:
            try:
                check_part(backup.get(part.key), part)
            except BackupError as exc:
                report.problems.append(exc.message)
    return report


@dataclass(frozen=True)
class SampleQuery:
    """A query and the top result id it returned before (``None``: not captured yet)."""

    collection: str
    text: str
    expected_top_id: str | None = None


def sample_queries(
    backup: BlobStoreProtocol, manifest: Manifest, n: int, *, seed: int = 0, collections: Sequence[str] | None = None
) -> list[SampleQuery]:
    """Up to ``n`` chunk texts, picked reproducibly, as queries. By default from the collections
    ingested by KnowledgeBeast (they record ``kb_model``): only those can be queried with text."""
    rng = random.Random(seed)
    wanted = [
        e
        for e in manifest.collections
        if (e.name in collections if collections is not None else "kb_model" in e.metadata)
    ]
    parts = [(e.name, p) for e in wanted if e.name != REGISTRY_COLLECTION for p in e.parts]
    candidates = [
        (collection, chunk.text[:MAX_SAMPLE_CHARS])
        for collection, part in rng.sample(parts, min(n, len(parts)))
        for chunk in check_part(backup.get(part.key), part)
        if chunk.text.strip()
    ]
    return [SampleQuery(c, text) for c, text in rng.sample(candidates, min(n, len(candidates)))]


def _top_id(query_service: QueryService, sample: SampleQuery) -> str | None:
    from knowledgebeast.schemas import QueryRequest

    request = QueryRequest.model_validate({"query": sample.text, "collection": sample.collection, "top_k": 1})
    response = query_service.query(request)
    return response.results[0].id if response.results else None


def capture_top_ids(query_service: QueryService, samples: list[SampleQuery]) -> list[SampleQuery]:
    """Run the samples against the current (pre-loss) store and remember each top result."""
    return [replace(sample, expected_top_id=_top_id(query_service, sample)) for sample in samples]


@dataclass
class RestoredReport:
    problems: list[str] = field(default_factory=list)
    queries_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_restored(
    store: VectorStoreProtocol, manifest: Manifest, query_service: QueryService, samples: list[SampleQuery]
) -> RestoredReport:
    """Counts per collection equal the manifest's, and every sample returns its captured top result."""
    report = RestoredReport()
    for entry in manifest.collections:
        try:
            count = store.collection_info(entry.name).count
        except KnowledgeBeastError as exc:
            report.problems.append(f"collection {entry.name}: {exc.message}")
            continue
        if count != entry.count and not entry.changed_during_export:
            report.problems.append(f"collection {entry.name}: {count} chunks, backup has {entry.count}")
    for sample in samples:
        top = _top_id(query_service, sample)
        report.queries_checked += 1
        if top != sample.expected_top_id:
            report.problems.append(
                f"query {sample.text[:60]!r} in {sample.collection}: "
                f"top result {top}, expected {sample.expected_top_id}"
            )
    return report
