"""Build Lambda events from the documented shapes in tests/events/ (see its README)."""

from __future__ import annotations

import base64
import copy
import json
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

EVENTS = Path(__file__).resolve().parents[1] / "events"
BUCKET = "kb-documents"


def load(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return data


def s3_key_in_event(key: str) -> str:
    """How S3 writes a key into a notification: URL-encoded, space as '+', '/' kept."""
    return quote_plus(key, safe="/")


def s3_record(
    event_name: str, key: str, sequencer: str, *, bucket: str = BUCKET, version_id: str | None = None, size: int = 0
) -> dict[str, Any]:
    template = "s3_object_removed.json" if event_name.startswith("ObjectRemoved") else "s3_object_created.json"
    record: dict[str, Any] = copy.deepcopy(load(template)["Records"][0])
    record["eventName"] = event_name
    record["s3"]["bucket"]["name"] = bucket
    record["s3"]["bucket"]["arn"] = f"arn:aws:s3:::{bucket}"
    obj = record["s3"]["object"]
    obj["key"] = s3_key_in_event(key)
    obj["sequencer"] = sequencer
    if "size" in obj:
        obj["size"] = size
    if version_id is not None:
        obj["versionId"] = version_id
    return record


def s3_notification(*records: dict[str, Any]) -> str:
    return json.dumps({"Records": list(records)})


def sqs_event(*bodies: str) -> dict[str, Any]:
    """One SQS record per body (each an S3 notification or a test event)."""
    template = load("sqs_event.json")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["receiptHandle"] = f"handle-{record['messageId']}"
        record["body"] = body
        records.append(record)
    return {"Records": records}


def created(key: str, sequencer: str, **kwargs: Any) -> str:
    return s3_notification(s3_record("ObjectCreated:Put", key, sequencer, **kwargs))


def removed(key: str, sequencer: str, **kwargs: Any) -> str:
    return s3_notification(s3_record("ObjectRemoved:Delete", key, sequencer, **kwargs))


def http_event(name: str, body: dict[str, Any], *, base64_body: bool | None = None) -> dict[str, Any]:
    """An API Gateway / Function URL event from ``name`` carrying ``body`` as JSON."""
    event = load(name)
    raw = json.dumps(body).encode()
    encode = event.get("isBase64Encoded", False) if base64_body is None else base64_body
    event["body"] = base64.b64encode(raw).decode() if encode else raw.decode()
    event["isBase64Encoded"] = encode
    for headers in (event.get("headers") or {},):
        for name_ in list(headers):
            if name_.lower() == "content-length":
                headers[name_] = str(len(raw))
    return event


class FakeContext:
    """The attributes of a Lambda context that Powertools and the handlers read."""

    function_name = "knowledgebeast-test"
    function_version = "$LATEST"
    memory_limit_in_mb = 2048
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:knowledgebeast-test"
    log_group_name = "/aws/lambda/knowledgebeast-test"
    log_stream_name = "2026/11/26/[$LATEST]abcdef"

    def __init__(self, remaining_ms: int = 300_000) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms
