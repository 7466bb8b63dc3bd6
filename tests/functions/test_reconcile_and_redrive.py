"""Scheduled reconcile and DLQ redrive, end to end: moto S3/SQS, the real handlers, real Chroma.

10% of the bucket's events are dropped (and a few objects change or vanish without an event);
the reconcile function finds the drift, sends repairs to the ingest queue, the ingest function
applies them, and the next runs converge: the registry equals the bucket. Repairs are bounded
per run, so the drift shrinks over several runs. Then messages dead-lettered after a failure are
replayed with ``knowledgebeast redrive`` and indexed.
"""

from __future__ import annotations

import json
import random
from typing import Any

import pytest

from knowledgebeast.cli import main
from tests.functions import events
from tests.functions.conftest import Lambdas, load_handler
from tests.sync.conftest import bucket_view, registry_view

OBJECTS = 100


def _body(i: int, revision: int = 1) -> bytes:
    return f"Ticket {i}, revision {revision}: the storage shelf {i % 9} is replaced on Fridays.\n".encode()


def _drain(lambdas: Lambdas, queue_url: str) -> int:
    """Deliver every queued message to the ingest function, ten at a time, as Lambda's poller would."""
    delivered = 0
    while True:
        messages = lambdas.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        if not messages:
            return delivered
        response = lambdas.ingest_bodies(*(m["Body"] for m in messages))
        assert response["batchItemFailures"] == []
        for message in messages:
            lambdas.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        delivered += len(messages)


def _ingest_service(lambdas: Lambdas) -> Any:
    return lambdas.ingest.services.ingest_service


@pytest.fixture
def reconcile_handler(lambdas: Lambdas, prefix: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    queue_url = lambdas.sqs.create_queue(QueueName=f"ingest-{prefix}")["QueueUrl"]
    monkeypatch.setenv("DOCUMENTS_BUCKET", lambdas.bucket)
    monkeypatch.setenv("INGEST_QUEUE_URL", queue_url)
    monkeypatch.setenv("RECONCILE_PREFIX", f"{prefix}/")
    monkeypatch.setenv("RECONCILE_MAX_REPAIRS", "12")
    module = load_handler("reconcile")
    module.queue_url = queue_url
    return module


@pytest.mark.slow
def test_dropped_events_are_reconciled_until_the_registry_equals_the_bucket(
    lambdas: Lambdas, prefix: str, reconcile_handler: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    rng = random.Random(7)
    keys = [f"{prefix}/tickets/t-{i:03d}.txt" for i in range(OBJECTS)]
    for i, key in enumerate(keys):
        lambdas.put(key, _body(i))
    dropped = set(rng.sample(keys, OBJECTS // 10))
    bodies = [events.created(key, f"{i + 1:016X}") for i, key in enumerate(keys) if key not in dropped]
    for start in range(0, len(bodies), 10):
        assert lambdas.ingest_bodies(*bodies[start : start + 10])["batchItemFailures"] == []
    survivors = [key for key in keys if key not in dropped]
    for key in survivors[:4]:  # changed without an event: stale
        lambdas.put(key, _body(keys.index(key), revision=2))
    for key in survivors[4:7]:  # deleted without an event: orphaned
        lambdas.s3.delete_object(Bucket=lambdas.bucket, Key=key)

    scope = f"s3://{lambdas.bucket}/{prefix}/"
    service = _ingest_service(lambdas)
    assert registry_view(service, scope) != bucket_view(lambdas.s3, lambdas.bucket, f"{prefix}/")
    capsys.readouterr()
    reports = []
    for _ in range(5):
        report = reconcile_handler.handler({"source": "aws.events"}, events.FakeContext())
        reports.append(report)
        _drain(lambdas, reconcile_handler.queue_url)
        if report["drift"] == 0:
            break
    first = reports[0]
    assert (first["missing"], first["stale"], first["orphaned"]) == (10, 4, 3)
    assert first["compared"] == OBJECTS - 3 and first["repaired"] == 12  # bounded per run
    assert [r["drift"] for r in reports] == [17, 5, 0]
    assert registry_view(service, scope) == bucket_view(lambdas.s3, lambdas.bucket, f"{prefix}/")
    for key in survivors[:4]:
        hits = service.store.get_where(prefix, {"source": {"$eq": f"s3://{lambdas.bucket}/{key}"}})
        assert hits and all("revision 2" in hit.text for hit in hits)
    # the drift the alarm watches is emitted as EMF, with the name and dimension the CDK alarm uses
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"reconcile_drift_documents"' in line]
    assert [doc["reconcile_drift_documents"] for doc in emf] == [[17.0], [5.0], [0.0]]
    assert all(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "KnowledgeBeast" for doc in emf)
    assert all(doc["service"] == "knowledgebeast" for doc in emf)


def test_redrive_replays_dead_lettered_events(
    lambdas: Lambdas, prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    sqs = lambdas.sqs
    dlq = sqs.create_queue(QueueName=f"dlq-{prefix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    queue = sqs.create_queue(QueueName=f"q-{prefix}", Attributes={"RedrivePolicy": policy})["QueueUrl"]
    keys = [f"{prefix}/late-{i}.txt" for i in range(3)]
    for i, key in enumerate(keys):
        lambdas.put(key, _body(i))
        sqs.send_message(QueueUrl=queue, MessageBody=events.created(key, f"{i + 1:016X}"))
    # the ingest function failed them (store down): received, never deleted, past maxReceiveCount
    for _ in range(2):
        sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, VisibilityTimeout=0)
    waiting = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert waiting["Attributes"]["ApproximateNumberOfMessages"] == "3"

    assert main(["redrive", "--dlq", dlq, "--queue", queue, "--dry-run"]) == 0
    assert "would move 3 message(s)" in capsys.readouterr().out
    assert main(["redrive", "--dlq", dlq, "--queue", queue, "--max", "2"]) == 0
    assert "moved 2 message(s)" in capsys.readouterr().out
    assert main(["redrive", "--dlq", dlq, "--queue", queue]) == 0
    assert "moved 1 message(s)" in capsys.readouterr().out
    assert sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", []) == []

    assert _drain(lambdas, queue) == 3
    service = _ingest_service(lambdas)
    assert set(registry_view(service, f"s3://{lambdas.bucket}/{prefix}/")) == {
        f"s3://{lambdas.bucket}/{key}" for key in keys
    }
