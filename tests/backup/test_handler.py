"""The backup Lambda, invoked with the documented EventBridge scheduled event against moto S3."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from knowledgebeast.backup.manifest import find_latest, load_manifest
from knowledgebeast.backup.storage import S3BlobStore, ScopedBlobStore
from knowledgebeast.backup.verify import verify_backup
from tests.backup.conftest import Source
from tests.backup.helpers import BUCKET, FakeLambdaContext

REPO = Path(__file__).resolve().parents[2]
EVENT = json.loads((REPO / "tests" / "events" / "backup_scheduled.json").read_text())


@pytest.fixture
def handler(monkeypatch: pytest.MonkeyPatch, source: Source, s3: Any) -> Iterator[ModuleType]:
    """The handler module imported as Lambda would (a fresh container) inside moto's mock."""
    from knowledgebeast.config import get_settings
    from knowledgebeast.observability import metrics

    monkeypatch.setattr(metrics, "_sinks", [])  # the handler installs the EMF sink: keep it out of other tests
    monkeypatch.setenv("APP_ENV", "test")
    monkeypatch.setenv("CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CHROMA_PORT", str(source.port))
    monkeypatch.setenv("BACKUP_BUCKET", BUCKET)
    get_settings.cache_clear()
    spec = importlib.util.spec_from_file_location("backup_handler_under_test", REPO / "functions/backup/handler.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    get_settings.cache_clear()


def _emf(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"_aws"' in line]


def test_scheduled_event_produces_a_complete_backup(
    handler: ModuleType, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    from knowledgebeast.observability.metrics import BACKUP_LAST_SUCCESS

    result = handler.handler(EVENT, FakeLambdaContext(remaining_ms=900_000))
    assert result["status"] == "complete" and result["chunks"] > 1000

    root = S3BlobStore(s3, BUCKET)
    prefix = find_latest(root)
    assert prefix == f"{result['kind']}/{result['backup_id']}/"
    manifest = load_manifest(ScopedBlobStore(root, prefix))
    assert manifest.status == "complete" and manifest.total_count == result["chunks"]
    assert verify_backup(ScopedBlobStore(root, prefix)).ok

    emf = _emf(capsys.readouterr().out)
    metrics = [m for m in emf if "BackupSuccess" in m]
    assert len(metrics) == 1
    assert metrics[0]["BackupSuccess"] in (1, [1], 1.0, [1.0])
    directive = metrics[0]["_aws"]["CloudWatchMetrics"][0]
    assert directive["Namespace"] == "KnowledgeBeast"
    assert {"Name": "BackupSuccess", "Unit": "Count"} in directive["Metrics"]
    assert metrics[0]["service"] == "knowledgebeast-backup"
    assert BACKUP_LAST_SUCCESS._value.get() > 0
    assert any("backup_last_success_timestamp_seconds" in m for m in emf)


def test_short_invocations_resume_until_complete(
    handler: ModuleType, s3: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """Remaining time below the safety margin: one page per invocation, never reported done early."""
    results = [handler.handler(EVENT, FakeLambdaContext(remaining_ms=1_000))]
    while results[-1]["status"] != "complete" and len(results) < 20:
        results.append(handler.handler(EVENT, FakeLambdaContext(remaining_ms=1_000)))
    assert [r["status"] for r in results[:-1]] == ["incomplete"] * (len(results) - 1)
    assert len(results) > 2 and results[-1]["status"] == "complete"
    assert {r["backup_id"] for r in results} == {results[0]["backup_id"]}
    assert len([m for m in _emf(capsys.readouterr().out) if "BackupSuccess" in m]) == 1
    assert find_latest(S3BlobStore(s3, BUCKET)) == f"{results[0]['kind']}/{results[0]['backup_id']}/"
