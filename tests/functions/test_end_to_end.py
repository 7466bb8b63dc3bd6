"""S3 object -> S3 notification in SQS -> ingest handler -> query handler (HTTP API) -> cited answer.

Everything real except AWS itself: moto for S3/SQS, a `chroma run` server, the ONNX model.
"""

from __future__ import annotations

import json
from typing import Any

from tests.functions import events
from tests.functions.conftest import Lambdas

PIZZA = "# Pizza policy\n\nEvery Friday the office orders margherita pizza for the whole engineering team."
PIZZA_V2 = "# Pizza policy\n\nPizza Fridays are cancelled. The team now gets fresh sushi platters on Thursdays."
VOLCANO = "# Volcanoes\n\nBasaltic lava from shield volcanoes flows a long way before it cools into rock."


def seq(n: int) -> str:
    """S3 sequencers are hex strings that grow per key."""
    return f"0055AED6DC{n:08X}"


def sources(results: list[dict[str, Any]]) -> list[str]:
    return [r["citation"]["source"] for r in results]


def no_failures(response: dict[str, Any]) -> None:
    assert response == {"batchItemFailures": []}


def test_created_object_is_answered_with_its_s3_uri(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/policies/pizza.md"
    other = f"{prefix}/geology/volcano.md"
    lambdas.put(key, PIZZA)
    lambdas.put(other, VOLCANO)
    no_failures(lambdas.ingest_bodies(events.created(key, seq(1)), events.created(other, seq(1))))

    results = lambdas.ask("what food does the office order on Fridays?", prefix)
    assert results[0]["citation"]["source"] == f"s3://{events.BUCKET}/{key}"
    assert "margherita" in results[0]["text"]
    assert results[0]["citation"]["title"] == "Pizza policy"


def test_update_replaces_the_old_content(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/pizza.md"
    lambdas.put(key, PIZZA)
    no_failures(lambdas.ingest_bodies(events.created(key, seq(1))))
    lambdas.put(key, PIZZA_V2)
    no_failures(lambdas.ingest_bodies(events.created(key, seq(2))))

    results = lambdas.ask("sushi platters", prefix, top_k=10)
    assert sources(results) == [f"s3://{events.BUCKET}/{key}"]
    assert "sushi" in results[0]["text"]
    assert all("margherita" not in r["text"] for r in lambdas.ask("margherita pizza", prefix, top_k=10))


def test_delete_removes_the_document_from_answers(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/pizza.md"
    lambdas.put(key, PIZZA)
    lambdas.put(f"{prefix}/volcano.md", VOLCANO)
    no_failures(lambdas.ingest_bodies(events.created(key, seq(1)), events.created(f"{prefix}/volcano.md", seq(1))))
    lambdas.s3.delete_object(Bucket=lambdas.bucket, Key=key)
    no_failures(lambdas.ingest_bodies(events.removed(key, seq(2))))

    assert f"s3://{events.BUCKET}/{key}" not in sources(lambdas.ask("pizza on Fridays", prefix, top_k=10))


def test_duplicate_event_changes_nothing(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/pizza.md"
    lambdas.put(key, PIZZA)
    body = events.created(key, seq(1))
    no_failures(lambdas.ingest_bodies(body))
    before = lambdas.ask("pizza", prefix)
    results = lambdas.ingest.ingestor.handle_message(body)
    assert [r.outcome for r in results] == ["skipped"]
    after = lambdas.ask("pizza", prefix)
    assert [r["id"] for r in after] == [r["id"] for r in before]


def test_same_content_uploaded_again_is_unchanged(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/pizza.md"
    lambdas.put(key, PIZZA)
    lambdas.ingest_bodies(events.created(key, seq(1)))
    lambdas.put(key, PIZZA)
    assert [r.outcome for r in lambdas.ingest.ingestor.handle_message(events.created(key, seq(2)))] == ["unchanged"]


def test_old_create_after_newer_create_is_ignored(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/pizza.md"
    lambdas.put(key, PIZZA_V2)
    no_failures(lambdas.ingest_bodies(events.created(key, seq(5))))
    # The event of an older upload arrives late (S3 does not order deliveries).
    assert [r.outcome for r in lambdas.ingest.ingestor.handle_message(events.created(key, seq(3)))] == ["skipped"]

    results = lambdas.ask("what happens to pizza fridays?", prefix)
    assert "sushi" in results[0]["text"]


def test_old_create_after_delete_does_not_resurrect(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/pizza.md"
    lambdas.put(key, PIZZA)
    lambdas.put(f"{prefix}/volcano.md", VOLCANO)
    lambdas.ingest_bodies(events.created(f"{prefix}/volcano.md", seq(1)))
    # The delete (newer) is processed before the create (older); the object even still exists.
    no_failures(lambdas.ingest_bodies(events.removed(key, seq(9))))
    no_failures(lambdas.ingest_bodies(events.created(key, seq(8))))

    assert f"s3://{events.BUCKET}/{key}" not in sources(lambdas.ask("pizza on Fridays", prefix, top_k=10))


def test_create_after_delete_of_a_newer_upload_reindexes(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/pizza.md"
    lambdas.put(key, PIZZA)
    lambdas.ingest_bodies(events.created(key, seq(1)), events.removed(key, seq(2)))
    lambdas.put(key, PIZZA_V2)
    no_failures(lambdas.ingest_bodies(events.created(key, seq(3))))
    assert sources(lambdas.ask("sushi", prefix)) == [f"s3://{events.BUCKET}/{key}"]


def test_object_gone_before_processing_is_skipped(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/never-there.md"
    response = lambdas.ingest_bodies(events.created(key, seq(1)))
    no_failures(response)
    assert [r.outcome for r in lambdas.ingest.ingestor.handle_message(events.created(key, seq(2)))] == ["skipped"]


def test_poisoned_record_does_not_block_the_batch(lambdas: Lambdas, prefix: str) -> None:
    good, corrupt, unsupported = f"{prefix}/good.md", f"{prefix}/broken.pdf", f"{prefix}/photo.png"
    lambdas.put(good, VOLCANO)
    lambdas.put(corrupt, b"%PDF-1.7\nthis is not really a pdf")
    lambdas.put(unsupported, b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    bad_collection = "x/notes.md"  # "x" is not a valid collection name (3+ characters)
    lambdas.put(bad_collection, VOLCANO)
    missing_bucket = events.created(f"{prefix}/elsewhere.md", seq(1), bucket="no-such-bucket")
    event = events.sqs_event(
        events.created(corrupt, seq(1)),
        events.created(good, seq(1)),
        missing_bucket,
        events.created(unsupported, seq(1)),
        events.created(bad_collection, seq(1)),
        "not json at all",
    )
    with lambdas.captured_logs() as logs:
        response = lambdas.ingest.handler(event, events.FakeContext())

    # Only the transient failure (S3 said NoSuchBucket: could be a permissions or setup problem that
    # an operator fixes) is retried; permanent failures are logged and dropped.
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][2]["messageId"]}]}
    assert sources(lambdas.ask("lava from shield volcanoes", prefix)) == [f"s3://{events.BUCKET}/{good}"]
    permanent = [line for line in logs if line.get("failure") == "permanent"]
    assert {line.get("key") for line in permanent} == {corrupt, unsupported, bad_collection, None}
    assert {line["error"] for line in permanent} == {
        "parse_error",
        "unsupported_format",
        "validation_error",
        "malformed_event",
    }
    assert all(line["level"] == "ERROR" and line["reason"] for line in permanent)
    # Each line carries its SQS message id as the correlation id.
    corrupt_line = next(line for line in permanent if line.get("key") == corrupt)
    assert corrupt_line["correlation_id"] == event["Records"][0]["messageId"]


def test_store_outage_is_retried(lambdas: Lambdas, prefix: str, chroma_server: Any) -> None:
    key = f"{prefix}/pizza.md"
    lambdas.put(key, PIZZA)
    event = events.sqs_event(json.dumps(events.load("s3_test_event.json")), events.created(key, seq(1)))
    chroma_server.stop()
    try:
        response = lambdas.ingest.handler(event, events.FakeContext())
    finally:
        chroma_server.restart()
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    no_failures(lambdas.ingest.handler(event, events.FakeContext()))
    assert sources(lambdas.ask("pizza", prefix)) == [f"s3://{events.BUCKET}/{key}"]


def test_key_with_spaces_plus_and_unicode(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/Q3 reports/Café menü + prices (final).md"
    lambdas.put(key, PIZZA)
    body = events.created(key, seq(1))
    assert "Caf%C3%A9+men%C3%BC+%2B+prices" in body  # the raw event is URL-encoded, space as '+'
    no_failures(lambdas.ingest_bodies(body))
    assert sources(lambdas.ask("margherita", prefix)) == [f"s3://{events.BUCKET}/{key}"]

    lambdas.s3.delete_object(Bucket=lambdas.bucket, Key=key)
    no_failures(lambdas.ingest_bodies(events.removed(key, seq(2))))
    assert lambdas.ask("margherita", prefix) == []


def test_key_without_prefix_goes_to_default_collection(lambdas: Lambdas) -> None:
    key = "loose-note-for-default.md"
    lambdas.put(key, VOLCANO)
    no_failures(lambdas.ingest_bodies(events.created(key, seq(1))))
    assert f"s3://{events.BUCKET}/{key}" in sources(lambdas.ask("basaltic lava", "default", top_k=10))
    lambdas.s3.delete_object(Bucket=lambdas.bucket, Key=key)
    no_failures(lambdas.ingest_bodies(events.removed(key, seq(2))))


def test_s3_metadata_and_tags_become_filterable_metadata(lambdas: Lambdas, prefix: str) -> None:
    key = f"{prefix}/pizza.md"
    lambdas.put(
        key,
        PIZZA,
        ContentType="text/markdown",
        Metadata={"department": "Facilities", "review-date": "2026-12-01"},
        Tagging="classification=internal&Owner%20Team=food",
    )
    lambdas.put(f"{prefix}/volcano.md", VOLCANO, Tagging="classification=public")
    no_failures(lambdas.ingest_bodies(events.created(key, seq(1)), events.created(f"{prefix}/volcano.md", seq(1))))

    results = lambdas.ask("food", prefix, filters={"tag_classification": "internal"}, top_k=10)
    assert sources(results) == [f"s3://{events.BUCKET}/{key}"]
    metadata = results[0]["metadata"]
    assert metadata["meta_department"] == "Facilities"
    assert metadata["meta_review_date"] == "2026-12-01"
    assert metadata["tag_owner_team"] == "food"


def test_test_event_is_skipped(lambdas: Lambdas) -> None:
    no_failures(lambdas.ingest_bodies(json.dumps(events.load("s3_test_event.json"))))


def test_records_are_deferred_when_time_runs_out(lambdas: Lambdas, prefix: str) -> None:
    queue_url = lambdas.sqs.create_queue(QueueName="kb-ingest")["QueueUrl"]
    keys = [f"{prefix}/a.md", f"{prefix}/b.md"]
    for key in keys:
        lambdas.put(key, VOLCANO)
    lambdas.sqs.send_message(QueueUrl=queue_url, MessageBody="placeholder")
    received = lambdas.sqs.receive_message(QueueUrl=queue_url, VisibilityTimeout=600)["Messages"][0]
    event = events.sqs_event(events.created(keys[0], seq(1)), events.created(keys[1], seq(1)))
    event["Records"][1]["receiptHandle"] = received["ReceiptHandle"]

    response = lambdas.ingest.handler(event, events.FakeContext(remaining_ms=10_000))

    # The first record always runs; the second is handed back and made visible again at once.
    assert response == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
    assert lambdas.sqs.receive_message(QueueUrl=queue_url).get("Messages"), "deferred message not released"
    assert sources(lambdas.ask("lava", prefix, top_k=10)) == [f"s3://{events.BUCKET}/{keys[0]}"]


def test_deleting_an_old_version_keeps_the_current_one(lambdas: Lambdas, prefix: str) -> None:
    bucket = "kb-versioned"
    lambdas.s3.create_bucket(Bucket=bucket)
    lambdas.s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    key = f"{prefix}/pizza.md"
    v1 = lambdas.s3.put_object(Bucket=bucket, Key=key, Body=PIZZA.encode())["VersionId"]
    v2 = lambdas.s3.put_object(Bucket=bucket, Key=key, Body=PIZZA_V2.encode())["VersionId"]
    created = events.created(key, seq(2), bucket=bucket, version_id=v2)
    no_failures(lambdas.ingest_bodies(created))

    # Permanently deleting the *old* version must not drop the document.
    lambdas.s3.delete_object(Bucket=bucket, Key=key, VersionId=v1)
    no_failures(lambdas.ingest_bodies(events.removed(key, seq(3), bucket=bucket, version_id=v1)))
    assert sources(lambdas.ask("sushi", prefix)) == [f"s3://{bucket}/{key}"]

    # A delete marker (plain DELETE on a versioned bucket) removes it.
    marker = events.s3_record("ObjectRemoved:DeleteMarkerCreated", key, seq(4), bucket=bucket, version_id="m1")
    lambdas.s3.delete_object(Bucket=bucket, Key=key)
    no_failures(lambdas.ingest_bodies(events.s3_notification(marker)))
    assert lambdas.ask("sushi", prefix) == []
