"""Newest version wins, whatever the interleaving: concurrent ingests of one key against real Chroma.

Each round uploads several versions of one key to a versioned moto bucket and applies their S3
events from threads started together (so each reads *its own* version's bytes), in a shuffled
order, with duplicate deliveries, and with a seeded random pause before every store call (the
real Chroma client underneath) so the writers interleave differently each round. After every
round the index must hold exactly the newest version (or nothing, if the newest event is a
delete) and a registry record that names it. Nothing is mocked but S3.
"""

from __future__ import annotations

import random
import threading
import time
from typing import Any

import pytest

from knowledgebeast.aws.s3_ingestor import S3Ingestor
from knowledgebeast.aws.s3_notifications import S3ObjectEvent
from knowledgebeast.identity import document_id
from knowledgebeast.ingest import IngestService
from knowledgebeast.store.chroma import ChromaStore
from tests.sync.conftest import BUCKET, indexed_state

ROUNDS = 24


class JitteryStore:
    """The real store; every call first sleeps 0-6 ms (seeded), so writers interleave differently."""

    def __init__(self, store: ChromaStore, seed: int) -> None:
        self._store = store
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._store, name)
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                pause = self._random.random() * 0.006
            time.sleep(pause)
            return target(*args, **kwargs)

        return call


class _Services:
    def __init__(self, service: IngestService) -> None:
        self.ingest_service = service


def _text(version: int, round_: int) -> bytes:
    body = "\n\n".join(f"Paragraph {i} of version {version} (round {round_}): keep the pager on." for i in range(3))
    return f"# Pager policy v{version}\n\n{body}\n".encode()


def _plan(round_: int, rng: random.Random) -> list[tuple[str, int]]:
    """The round's events in upload order: (kind, version); the last one is the newest."""
    shapes = [
        [("put", 1), ("put", 2)],
        [("put", 1), ("put", 2), ("put", 3)],
        [("put", 1), ("put", 2), ("delete", 3)],
        [("put", 1), ("delete", 2), ("put", 3)],
    ]
    return shapes[round_ % len(shapes)] if round_ < len(shapes) else rng.choice(shapes)


def _race(ingestor: S3Ingestor, deliveries: list[S3ObjectEvent], outcomes: dict[str, int]) -> None:
    """Apply every delivery from its own thread, all released at once; re-raise any failure."""
    barrier = threading.Barrier(len(deliveries))
    errors: list[BaseException] = []
    lock = threading.Lock()

    def apply(event: S3ObjectEvent) -> None:
        try:
            barrier.wait()
            result = ingestor.handle(event)
            with lock:
                outcomes[result.outcome] = outcomes.get(result.outcome, 0) + 1
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=apply, args=(event,)) for event in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


@pytest.mark.slow
def test_newest_version_wins_under_concurrent_interleavings(http_store: Any, embedder: Any) -> None:
    import boto3
    from moto import mock_aws

    rng = random.Random(11)
    outcomes: dict[str, int] = {}
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for round_ in range(ROUNDS):
            collection = f"race-{round_:02d}-{rng.randrange(16**6):06x}"
            key = f"{collection}/pager.md"
            store = JitteryStore(http_store, seed=round_)
            service = IngestService(store, embedder, embedder.token_counter)  # type: ignore[arg-type]
            ingestor = S3Ingestor(_Services(service), s3, max_object_bytes=1 << 20)
            events: list[S3ObjectEvent] = []
            plan = _plan(round_, rng)
            for sequence, (kind, version) in enumerate(plan, start=1):
                sequencer = f"00{round_:02X}{sequence:04X}0000"
                if kind == "put":
                    put = s3.put_object(Bucket=BUCKET, Key=key, Body=_text(version, round_))
                    events.append(S3ObjectEvent("ObjectCreated:Put", BUCKET, key, sequencer, put["VersionId"]))
                else:
                    marker = s3.delete_object(Bucket=BUCKET, Key=key)
                    events.append(
                        S3ObjectEvent("ObjectRemoved:DeleteMarkerCreated", BUCKET, key, sequencer, marker["VersionId"])
                    )
            deliveries = events + [rng.choice(events) for _ in range(rng.randint(0, 2))]  # duplicates: retries
            rng.shuffle(deliveries)
            _race(ingestor, deliveries, outcomes)

            newest_kind, newest_version = plan[-1]
            doc_id = document_id(collection, f"s3://{BUCKET}/{key}")
            record, chunks = indexed_state(service, collection, doc_id)
            order = [f"{kind}{version}" for kind, version in plan]
            seen = [f"{e.name.split(':')[1]}@{e.sequencer[-8:-4]}" for e in deliveries]
            assert record is not None, (order, seen)
            assert record.sequencer == events[-1].sequencer, (order, seen, record)
            if newest_kind == "delete":
                assert record.deleted and chunks == [], (order, seen, record, len(chunks))
            else:
                assert not record.deleted, (order, seen, record)
                assert chunks and all(f"version {newest_version} " in c.text for c in chunks), (order, seen)
                assert {c.metadata["content_hash"] for c in chunks} == {record.content_hash}
                assert len(chunks) == record.chunk_count, (order, seen, record)
            # nothing left to arbitrate: the older claims were pruned
            assert len(service.versions.claims.of(doc_id)) == 1
    # the rounds really raced: some writers lost or were stale, not only sequential wins
    assert outcomes.get("skipped", 0) > 0, outcomes
