"""Backup fixtures: a dedicated Chroma server holding real ingested documents, and moto S3.

The source server is separate from the session's shared one because a backup exports *every*
collection: other tests' collections must not leak into these backups and their counts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.backup.helpers import BUCKET, DOCS, DOCS_COLLECTION, VECTORS_COLLECTION

SYNTHETIC_ROWS = 1234
SYNTHETIC_DIM = 16


@dataclass
class Source:
    port: int
    store: Any


@pytest.fixture(scope="session")
def source(tmp_path_factory: pytest.TempPathFactory, embedder: Any) -> Iterator[Source]:
    """A `chroma run` server with ingested documents (plus their registry records) and a larger
    collection of synthetic vectors (several pages). Read-only for the tests."""
    from knowledgebeast.ingest import IngestService
    from knowledgebeast.store.chroma import ChromaStore
    from tests.utils.servers import start_chroma

    server = start_chroma(tmp_path_factory.mktemp("backup-source"))
    store = ChromaStore.http("127.0.0.1", server.port)
    ingest = IngestService(store, embedder, embedder.token_counter)
    for name, text in DOCS.items():
        ingest.ingest_bytes(text.encode(), collection=DOCS_COLLECTION, source=f"s3://docs/{name}", filename=name)
    fixtures = Path(__file__).parents[1] / "fixtures" / "docs"
    for name in ("sample.md", "sample.html"):
        ingest.ingest_bytes((fixtures / name).read_bytes(), collection=DOCS_COLLECTION, source=str(fixtures / name))
    ingest.delete_source(DOCS_COLLECTION, "s3://docs/never-ingested.md")  # a tombstone record
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(SYNTHETIC_ROWS, SYNTHETIC_DIM)).astype(np.float32)
    store.ensure_collection(VECTORS_COLLECTION, {"owner": "tests", "ratio": 0.5, "frozen": True})
    store.upsert(
        VECTORS_COLLECTION,
        [f"v-{i:05d}" for i in range(SYNTHETIC_ROWS)],
        vectors,
        [f"synthetic row {i} é ✓" for i in range(SYNTHETIC_ROWS)],
        [{"row": i, "even": i % 2 == 0, "score": float(i) / 7, "tag": f"t{i % 5}"} for i in range(SYNTHETIC_ROWS)],
    )
    yield Source(server.port, store)
    server.stop()


@pytest.fixture
def s3() -> Iterator[Any]:
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def s3_blobs(s3: Any) -> Any:
    from knowledgebeast.backup.storage import S3BlobStore

    return S3BlobStore(s3, BUCKET, "kb")


@pytest.fixture
def empty_store(tmp_path: Path) -> Any:
    """A brand-new embedded store: the 'wiped' target of a restore."""
    from knowledgebeast.store.chroma import ChromaStore

    return ChromaStore.persistent(tmp_path / "restored-chroma")
