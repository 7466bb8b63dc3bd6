"""The real handler modules, imported fresh against moto (S3, SQS) and the test Chroma server.

The handlers build everything at import from environment settings (as in Lambda), so the
environment is set first, ``get_settings``' cache is cleared, and each module is loaded from its
file under a unique name (both are called ``handler.py``).
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from tests.conftest import MODEL_DIR, REPO
from tests.functions import events

FUNCTIONS = REPO / "functions"


def load_handler(name: str) -> ModuleType:
    """Import functions/<name>/handler.py as a new module (module-level code runs again)."""
    from knowledgebeast.config import get_settings

    get_settings.cache_clear()
    module_name = f"kb_{name}_handler_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, FUNCTIONS / name / "handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


@dataclass
class Lambdas:
    """Both functions plus the moto clients, driven like Lambda would drive them."""

    query: ModuleType
    ingest: ModuleType
    s3: Any
    sqs: Any
    bucket: str

    def put(self, key: str, body: bytes | str, **kwargs: Any) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data, **kwargs)

    def ingest_bodies(self, *bodies: str, remaining_ms: int = 300_000) -> dict[str, Any]:
        response: dict[str, Any] = self.ingest.handler(events.sqs_event(*bodies), events.FakeContext(remaining_ms))
        return response

    def http(self, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        response = self.query.handler(event, events.FakeContext())
        body = response.get("body") or ""
        if response.get("isBase64Encoded"):
            import base64

            body = base64.b64decode(body).decode()
        return int(response["statusCode"]), json.loads(body) if body else {}

    @contextmanager
    def captured_logs(self) -> Iterator[list[dict[str, Any]]]:
        """JSON log lines written through the ingest function's Powertools handler meanwhile."""
        handler = self.ingest.logger.registered_handler
        stream = io.StringIO()
        previous = handler.setStream(stream)
        lines: list[dict[str, Any]] = []
        try:
            yield lines
        finally:
            handler.setStream(previous)
            lines.extend(json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{"))

    def ask(self, query: str, collection: str, *, top_k: int = 5, **extra: Any) -> list[dict[str, Any]]:
        status, body = self.http(
            events.http_event("http_api_v2.json", {"query": query, "collection": collection, "top_k": top_k, **extra})
        )
        assert status == 200, body
        results: list[dict[str, Any]] = body["results"]
        return results


@pytest.fixture(scope="module")
def lambdas(chroma_server: Any, model_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lambdas]:
    import logging

    import boto3
    from moto import mock_aws

    from knowledgebeast.observability import metrics

    package_logger = logging.getLogger("knowledgebeast")
    saved_logging = (list(package_logger.handlers), package_logger.propagate, package_logger.level)
    saved_sinks = list(metrics._sinks)
    with pytest.MonkeyPatch.context() as env:
        for name in ("AWS_PROFILE", "CONFIG_FILE", "API_KEY", "JWT_SECRET", "REDIS_HOST", "API_GATEWAY_BASE_PATH"):
            env.delenv(name, raising=False)
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("APP_ENV", "test")
        env.setenv("CHROMA_HOST", "127.0.0.1")
        env.setenv("CHROMA_PORT", str(chroma_server.port))
        env.setenv("EMBEDDING_MODEL_DIR", str(MODEL_DIR))
        env.setenv("DATA_DIR", str(tmp_path_factory.mktemp("lambda-data")))
        env.setenv("POWERTOOLS_METRICS_NAMESPACE", "KnowledgeBeastTest")
        with mock_aws():
            s3 = boto3.client("s3", region_name="us-east-1")
            s3.create_bucket(Bucket=events.BUCKET)
            sqs = boto3.client("sqs", region_name="us-east-1")
            yield Lambdas(load_handler("query"), load_handler("ingest"), s3, sqs, events.BUCKET)
    from knowledgebeast.config import get_settings

    get_settings.cache_clear()
    # The handlers route package logs to Powertools and metrics to EMF: undo that for other tests.
    package_logger.handlers, package_logger.propagate = saved_logging[0], saved_logging[1]
    package_logger.setLevel(saved_logging[2])
    metrics._sinks[:] = saved_sinks


@pytest.fixture
def prefix() -> str:
    """A fresh collection (the first key segment) per test, so tests share one Chroma server."""
    return f"t-{uuid.uuid4().hex[:10]}"
