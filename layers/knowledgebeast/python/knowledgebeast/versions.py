"""Newest version wins: how concurrent writers of one document agree without transactions.

Chroma has no conditional writes, so the registry alone (last writer wins) cannot order two
ingests of one key. Instead every write of a document first appends a **claim**: a row of its own
(id ``<document_id>@<key>``, never overwritten by another writer) in the registry collection,
carrying the full registry record it wants to commit (content hash and chunk count included).
Claims are totally ordered by ``key`` = (S3 ``sequencer``, claim time, random nonce); the
greatest claim is the winner. Then:

1. a writer appends its claim (after parsing and embedding, before writing anything else);
2. upserts its chunks (ids carry the content hash, so equal content means equal rows);
3. **settles**: reads the document's chunks, *then* its claims, deletes every chunk whose content
   hash is not the winner's, and if the winner is complete (all ``chunk_count`` chunks of its hash
   are stored) makes the registry record equal to the winner's; after writing the registry it
   re-reads the claims and repeats if the winner changed.

Why that converges on the newest version whatever the interleaving (W = greatest claim):
W's chunks are never deleted (a chunk read that sees them happens after W's claim existed, so
the claims read that follows it sees W); every other writer's chunks are deleted by W's settle or,
if upserted later, by their own writer's settle (which then sees W); and every registry write is
followed by a claims read, so the last registry write is made by a writer that saw W complete.
A winner that crashed before storing its chunks leaves its claim pending: nobody commits it, the
older version stays registered, and the retry (SQS redelivery or the next reconcile) claims again.

Writes without a sequencer (CLI, API, sync, reconcile) take the greatest sequencer seen *before*
they read their bytes (``after``) and win ties by time: they beat what was there when they read,
and lose to any S3 event for a newer upload.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from knowledgebeast.errors import StoreUnavailableError
from knowledgebeast.registry import REGISTRY_COLLECTION, DocumentRecord, DocumentRegistry, sequencer_is_newer
from knowledgebeast.store.base import Metadata, VectorStoreProtocol

#: S3 sequencers are hex strings of varying length compared as if right-padded with zeros.
SEQUENCER_WIDTH = 64
MAX_SETTLE_ROUNDS = 20
_PLACEHOLDER = np.ones((1, 1), dtype=np.float32)


def utc_stamp() -> str:
    """Fixed-width UTC time (isoformat drops microseconds when they are 0: not sortable)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def claim_key(sequencer: str, at: str, nonce: str) -> str:
    return f"{sequencer.upper().ljust(SEQUENCER_WIDTH, '0')}|{at}|{nonce}"


def newest_sequencer(*sequencers: str) -> str:
    best = ""
    for candidate in sequencers:
        if candidate and (not best or sequencer_is_newer(candidate, best)):
            best = candidate
    return best


@dataclass(frozen=True)
class Claim:
    key: str
    record: DocumentRecord

    @property
    def row_id(self) -> str:
        return f"{self.record.document_id}@{self.key}"


@dataclass(frozen=True)
class VersionCheck:
    """What a writer learns before reading its bytes: is its event stale, and what to order after."""

    existing: DocumentRecord | None
    stale: bool
    after: str


@dataclass(frozen=True)
class Settled:
    winner: Claim | None
    removed_chunks: int


class ClaimLog:
    """Append-only claim rows in the registry collection (keys ``claim_*``, never ``document_id``)."""

    def __init__(self, store: VectorStoreProtocol) -> None:
        self._store = store

    def of(self, document_id: str) -> list[Claim]:
        return self.state(document_id)[1]

    def state(self, document_id: str) -> tuple[DocumentRecord | None, list[Claim]]:
        """The registry record and the claims of a document, in one read."""
        where = {"$or": [{"document_id": {"$eq": document_id}}, {"claim_of": {"$eq": document_id}}]}
        found = self._store.get_where(REGISTRY_COLLECTION, where, include_text=False)
        record, claims = None, []
        for item in found:
            if "claim_of" in item.metadata:
                record_fields = json.loads(str(item.metadata["claim_record"]))
                claims.append(Claim(str(item.metadata["claim_key"]), DocumentRecord.from_metadata(record_fields)))
            else:
                record = DocumentRecord.from_metadata(item.metadata)
        return record, claims

    def put(self, claim: Claim) -> None:
        metadata: Metadata = {
            "claim_of": claim.record.document_id,
            "claim_key": claim.key,
            "claim_collection": claim.record.collection,
            "claim_record": json.dumps(claim.record.to_metadata(), sort_keys=True),
        }
        self._store.upsert(REGISTRY_COLLECTION, [claim.row_id], _PLACEHOLDER, [claim.record.source], [metadata])

    def drop(self, claims: Sequence[Claim]) -> None:
        if claims:
            self._store.delete_ids(REGISTRY_COLLECTION, [claim.row_id for claim in claims])


class DocumentVersions:
    """The ordering protocol above, over one store; ``bump_version(collection)`` invalidates caches."""

    def __init__(
        self, store: VectorStoreProtocol, registry: DocumentRegistry, bump_version: Callable[[str], None]
    ) -> None:
        self.store = store
        self.registry = registry
        self.claims = ClaimLog(store)
        self._bump = bump_version

    def check(self, document_id: str, sequencer: str = "") -> VersionCheck:
        """One read of the registry and the claims: stale if a newer event was claimed or this one applied."""
        self.registry.ensure()
        existing, claims = self.claims.state(document_id)
        claimed = [claim.record.sequencer for claim in claims]
        top = newest_sequencer(existing.sequencer if existing else "", *claimed)
        stale = (
            bool(sequencer)
            and bool(top)
            and (
                sequencer_is_newer(top, sequencer)
                or (existing is not None and _same_sequencer(existing.sequencer, sequencer))
            )
        )
        return VersionCheck(existing, stale, top)

    def claim(self, record: DocumentRecord) -> Claim:
        """Append a claim for ``record``; call it before writing any of the record's chunks."""
        claim = Claim(claim_key(record.sequencer, utc_stamp(), secrets.token_hex(4)), record)
        self.claims.put(claim)
        return claim

    def settle(self, collection: str, document_id: str) -> Settled:
        """Converge chunks and registry on the greatest claim (see the module docstring)."""
        removed = 0
        for _ in range(MAX_SETTLE_ROUNDS):
            chunks = self.store.get_where(collection, {"document_id": {"$eq": document_id}}, include_text=False)
            current, claims = self.claims.state(document_id)
            if not claims:
                return Settled(None, removed)
            winner = max(claims, key=lambda c: c.key)
            doomed = [c.id for c in chunks if c.metadata.get("content_hash") != winner.record.content_hash]
            if doomed:
                self.store.delete_ids(collection, doomed)
                removed += len(doomed)
            if len(chunks) - len(doomed) != winner.record.chunk_count:  # its writer is still storing them
                if doomed:
                    self._bump(collection)
                return Settled(winner, removed)
            if current != winner.record:
                self._bump(collection)  # before the commit: a crash after it must not leave stale cache keys
                self.registry.put(winner.record)
                if max(c.key for c in self.claims.of(document_id)) != winner.key:
                    continue
            elif doomed:
                self._bump(collection)
            self.claims.drop([c for c in claims if c.key < winner.key])
            return Settled(winner, removed)
        raise StoreUnavailableError(f"document {document_id} did not settle after {MAX_SETTLE_ROUNDS} rounds")


def _same_sequencer(a: str, b: str) -> bool:
    return bool(a) and not sequencer_is_newer(a, b) and not sequencer_is_newer(b, a)
