"""``knowledgebeast sync s3://bucket/prefix`` against moto S3 and a real Chroma server."""

from __future__ import annotations

import random
from typing import Any

import pytest

from knowledgebeast.cli import main
from tests.sync.conftest import BUCKET, bucket_view, registry_view, summary_of


def _body(i: int, revision: int = 1) -> bytes:
    return f"Object {i}, revision {revision}: the on-call rota for team {i % 17} changes on Mondays.\n".encode()


def _fill(s3: Any, prefix: str, count: int) -> list[str]:
    keys = [f"{prefix}/docs/item-{i:04d}.txt" for i in range(count)]
    for i, key in enumerate(keys):
        s3.put_object(Bucket=BUCKET, Key=key, Body=_body(i), ContentType="text/plain")
    return keys


def _sync(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, str], str]:
    code = main(["sync", *args, "--quiet"])
    captured = capsys.readouterr()
    print(captured.out)  # the summary line, for -s runs (throughput figures)
    return code, summary_of(captured.out), captured.err


def _ingest_service() -> Any:
    from knowledgebeast.config import get_settings
    from knowledgebeast.factory import build_services

    return build_services(get_settings()).ingest_service


def test_s3_sync_changes_and_deletes_propagate(
    cli_env: dict[str, str], s3: Any, collection_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = _fill(s3, collection_name, 30)
    s3.put_object(Bucket=BUCKET, Key=f"{collection_name}/docs/folder/", Body=b"")  # console folder marker
    code, first, _ = _sync(capsys, f"s3://{BUCKET}/{collection_name}/")
    assert code == 0 and (first["added"], first["failed"]) == ("30", "0")
    ingest = _ingest_service()
    scope = f"s3://{BUCKET}/{collection_name}/"
    assert registry_view(ingest, scope) == bucket_view(s3, prefix=f"{collection_name}/")

    rng = random.Random(3)
    changed, deleted = rng.sample(keys[:15], 5), rng.sample(keys[15:], 7)
    for key in changed:
        s3.put_object(Bucket=BUCKET, Key=key, Body=_body(keys.index(key), revision=2))
    for key in deleted:
        s3.delete_object(Bucket=BUCKET, Key=key)
    code, second, _ = _sync(capsys, scope)
    assert (second["changed"], second["deleted"], second["unchanged"]) == ("5", "0", "18")
    assert len(registry_view(ingest, scope)) == 30  # without --delete the orphans stay
    code, third, _ = _sync(capsys, scope, "--delete")
    assert code == 0 and (third["deleted"], third["unchanged"], third["changed"]) == ("7", "23", "0")
    assert registry_view(ingest, scope) == bucket_view(s3, prefix=f"{collection_name}/")
    for key in changed:
        hits = ingest.store.get_where(collection_name, {"source": {"$eq": f"s3://{BUCKET}/{key}"}})
        assert hits and all("revision 2" in hit.text for hit in hits)
    gone = ingest.store.get_where(collection_name, {"source": {"$in": [f"s3://{BUCKET}/{k}" for k in deleted]}})
    assert gone == []


def test_s3_sync_reports_invalid_collections_and_exits_non_zero(
    cli_env: dict[str, str], s3: Any, collection_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    s3.put_object(Bucket=BUCKET, Key="x/too-short-collection.txt", Body=b"text")
    s3.put_object(Bucket=BUCKET, Key=f"{collection_name}/fine.txt", Body=b"fine text")
    code, summary, err = _sync(capsys, f"s3://{BUCKET}/")
    assert code == 1 and summary["failed"] == "1" and "invalid collection name 'x'" in err
    assert summary["added"] == "1"


@pytest.mark.slow
def test_a_bucket_of_1000_objects_syncs_from_empty(
    cli_env: dict[str, str], s3: Any, collection_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(s3, collection_name, 1000)
    scope = f"s3://{BUCKET}/{collection_name}/"
    code, first, _ = _sync(capsys, scope, "--delete")
    assert code == 0
    assert (first["compared"], first["added"], first["unchanged"], first["failed"]) == ("1000", "1000", "0", "0")
    ingest = _ingest_service()
    assert registry_view(ingest, scope) == bucket_view(s3, prefix=f"{collection_name}/")
    assert ingest.store.collection_info(collection_name).count == 1000  # one chunk each, no duplicates
    code, again, _ = _sync(capsys, scope, "--delete")
    assert code == 0 and (again["unchanged"], again["added"], again["deleted"]) == ("1000", "0", "0")
