"""Sync, reconcile and ordering tests: a real ``chroma run`` server, the real model, moto S3/SQS."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MODEL_DIR

BUCKET = "kb-sync-docs"


@pytest.fixture
def ingest_service(http_store: Any, embedder: Any) -> Any:
    from knowledgebeast.ingest import IngestService

    return IngestService(http_store, embedder, embedder.token_counter)


@pytest.fixture
def s3() -> Iterator[Any]:
    """A moto S3 with one (unversioned) bucket."""
    import boto3
    from moto import mock_aws

    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
def cli_env(chroma_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """The CLI's settings: the test Chroma server, the built model, no cache server."""
    from knowledgebeast.config import get_settings

    env = {
        "APP_ENV": "test",
        "CHROMA_HOST": "127.0.0.1",
        "CHROMA_PORT": str(chroma_server.port),
        "EMBEDDING_MODEL_DIR": str(MODEL_DIR),
        "DATA_DIR": str(tmp_path / "data"),
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    for name in ("REDIS_HOST", "API_KEY", "JWT_SECRET", "CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield env
    get_settings.cache_clear()


def summary_of(out: str) -> dict[str, str]:
    line = [line for line in out.splitlines() if line.startswith("compared=")][-1]
    return dict(part.split("=", 1) for part in line.split())


def indexed_state(service: Any, collection: str, doc_id: str) -> tuple[Any, list[Any]]:
    """(registry record, stored chunks) of one document."""
    chunks = service.store.get_where(collection, {"document_id": {"$eq": doc_id}})
    return service.registry.get(doc_id), chunks


def registry_view(service: Any, scope: str) -> dict[str, str]:
    """source -> ETag of every live registry record under ``scope``."""
    return {r.source: r.source_etag for r in service.registry.live() if r.source.startswith(scope)}


def bucket_view(s3: Any, bucket: str = BUCKET, prefix: str = "") -> dict[str, str]:
    """source -> ETag of every object in the bucket (as the registry should see it; folder markers skipped)."""
    out: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):
                out[f"s3://{bucket}/{obj['Key']}"] = obj["ETag"]
    return out
