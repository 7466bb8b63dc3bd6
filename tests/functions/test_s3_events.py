"""The S3-event rules in isolation: decoding, collections, metadata, ordering, failure classes."""

from __future__ import annotations

import json
from typing import Any

import pytest

from knowledgebeast.aws.s3_events import (
    MalformedEventError,
    S3Ingestor,
    chunk_metadata,
    collection_for_key,
    parse_notification,
)
from knowledgebeast.errors import ValidationError
from tests.functions import events


def test_keys_are_decoded_exactly_once() -> None:
    record = events.s3_record("ObjectCreated:Put", "x", "01")
    record["s3"]["object"]["key"] = "docs/a%2Bb+c/%E2%82%AC+100%25.md"
    (event,) = parse_notification(events.s3_notification(record))
    assert event.key == "docs/a+b c/€ 100%.md"
    assert event.source == f"s3://{events.BUCKET}/docs/a+b c/€ 100%.md"
    assert event.filename == "€ 100%.md"


def test_event_fields() -> None:
    record = events.s3_record("ObjectCreated:CompleteMultipartUpload", "c1/f.pdf", "0A1B", version_id="v-1", size=7)
    (event,) = parse_notification(events.s3_notification(record))
    assert (event.created, event.removed) == (True, False)
    assert (event.sequencer, event.version_id, event.size) == ("0A1B", "v-1", 7)
    removed = parse_notification(events.removed("c1/f.pdf", "0A1C"))[0]
    assert (removed.created, removed.removed, removed.size, removed.version_id) == (False, True, None, None)


def test_lifecycle_expirations_are_removals() -> None:
    for name in ("LifecycleExpiration:Delete", "LifecycleExpiration:DeleteMarkerCreated"):
        (event,) = parse_notification(events.s3_notification(events.s3_record(name, "c1/f.md", "01")))
        assert event.removed and not event.created


def test_null_version_id_means_unversioned() -> None:
    record = events.s3_record("ObjectCreated:Put", "c1/f.md", "01", version_id="null")
    assert parse_notification(events.s3_notification(record))[0].version_id is None


def test_test_event_has_no_records() -> None:
    assert parse_notification(json.dumps(events.load("s3_test_event.json"))) == []


def test_sns_envelope_is_unwrapped() -> None:
    inner = events.created("c1/f.md", "01")
    envelope = json.dumps({"Type": "Notification", "MessageId": "m", "TopicArn": "arn:aws:sns:x", "Message": inner})
    assert parse_notification(envelope)[0].key == "c1/f.md"


@pytest.mark.parametrize(
    "body",
    [
        "",
        "not json",
        "[]",
        json.dumps({"Records": "x"}),
        json.dumps({"Records": [{"eventSource": "aws:sqs"}]}),
        json.dumps({"Records": [{"eventSource": "aws:s3", "s3": {}}]}),
    ],
)
def test_malformed_messages_are_permanent(body: str) -> None:
    with pytest.raises(MalformedEventError) as info:
        parse_notification(body)
    assert isinstance(info.value, ValidationError)


def test_collection_is_the_first_key_segment() -> None:
    assert collection_for_key("hr-docs/policies/leave.pdf") == "hr-docs"
    assert collection_for_key("leave.pdf") == "default"
    assert collection_for_key("leave.pdf", default="inbox") == "inbox"
    for bad in ("x/a.md", "kb-documents-registry/a.md", "bad name/a.md", "/a.md"):
        with pytest.raises(ValidationError):
            collection_for_key(bad)


def test_metadata_and_tags_are_prefixed_and_sanitised() -> None:
    out = chunk_metadata(
        {"Review-Date": "2026-01-01", "owner": " ops ", "empty": "", "title": "=?UTF-8?B?Q2Fmw6k=?="},
        [{"Key": "Data Class", "Value": "internal"}, {"Key": "$weird!", "Value": "x"}],
    )
    assert out == {
        "tag_data_class": "internal",
        "tag_weird": "x",
        "meta_review_date": "2026-01-01",
        "meta_owner": "ops",
        "meta_title": "Café",
    }


def test_metadata_is_capped_and_tags_win() -> None:
    many = {f"k{i:02d}": "v" for i in range(40)}
    out = chunk_metadata(many, [{"Key": "team", "Value": "a"}])
    assert len(out) == 32 and out["tag_team"] == "a"


class FakeS3:
    """Only what S3Ingestor calls; every call is recorded."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.calls: list[str] = []

    def get_object(self, **kwargs: Any) -> dict[str, Any]:
        import io

        self.calls.append(f"get {kwargs['Key']}")
        if kwargs["Key"] not in self.objects:
            error = Exception("missing")
            error.response = {"Error": {"Code": "NoSuchKey"}}  # type: ignore[attr-defined]
            raise error
        data = self.objects[kwargs["Key"]]
        return {"Body": io.BytesIO(data), "ContentLength": len(data), "ContentType": "binary/octet-stream"}

    def get_object_tagging(self, **kwargs: Any) -> dict[str, Any]:
        return {"TagSet": []}


def test_stale_events_never_download(make_services: Any, collection_name: str) -> None:
    key = f"{collection_name}/doc.md"
    s3 = FakeS3({key: b"# Doc\n\nSome searchable text about lighthouses and foghorns."})
    ingestor = S3Ingestor(make_services(), s3, max_object_bytes=1000)
    assert ingestor.handle_message(events.created(key, "0B"))[0].outcome == "indexed"
    assert ingestor.handle_message(events.created(key, "0A"))[0].outcome == "skipped"
    assert ingestor.handle_message(events.created(key, "0B"))[0].outcome == "skipped"
    assert s3.calls == [f"get {key}"]


def test_objects_over_the_size_limit_fail_permanently(make_services: Any, collection_name: str) -> None:
    key = f"{collection_name}/big.md"
    ingestor = S3Ingestor(make_services(), FakeS3({key: b"x" * 2000}), max_object_bytes=1000)
    (result,) = ingestor.handle_message(events.created(key, "01"))
    assert result.outcome == "failed" and "exceeds the limit of 1000" in result.reason


def test_unhandled_event_types_are_ignored(make_services: Any, collection_name: str) -> None:
    record = events.s3_record("ObjectRestore:Completed", f"{collection_name}/a.md", "01")
    ingestor = S3Ingestor(make_services(), FakeS3({}), max_object_bytes=1000)
    assert ingestor.handle_message(events.s3_notification(record))[0].outcome == "ignored"
    folder = events.created(f"{collection_name}/folder/", "01")
    assert ingestor.handle_message(folder)[0].outcome == "ignored"
