"""S3 event notifications (raw, or wrapped in SNS) -> :class:`S3ObjectEvent`, keys decoded once.

Keys arrive URL-encoded (space as ``+``, UTF-8 as ``%XX``). They are decoded exactly once, here,
with ``unquote_plus`` on the raw event: decoding twice (or using an already-decoded key such as
Powertools' ``S3Event.object_key``) turns a literal ``+`` into a space.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote_plus

from knowledgebeast.errors import ValidationError


class MalformedEventError(ValidationError):
    """The SQS message is not an S3 event notification this function understands."""

    code = "malformed_event"


@dataclass(frozen=True)
class S3ObjectEvent:
    """One record of an S3 notification, key already decoded."""

    name: str
    bucket: str
    key: str
    sequencer: str = ""
    version_id: str | None = None
    size: int | None = None

    @property
    def created(self) -> bool:
        return self.name.startswith("ObjectCreated:")

    @property
    def removed(self) -> bool:
        """Deletes, delete markers, and the same done by a lifecycle rule (``s3:LifecycleExpiration:*``)."""
        return self.name.startswith(("ObjectRemoved:", "LifecycleExpiration:"))

    @property
    def source(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def filename(self) -> str:
        return self.key.rsplit("/", 1)[-1]


def parse_notification(body: str) -> list[S3ObjectEvent]:
    """The object events in an SQS message body; ``[]`` for ``s3:TestEvent``.

    Also unwraps an SNS envelope (S3 -> SNS -> SQS without raw delivery).
    """
    try:
        payload = json.loads(body)
    except (TypeError, ValueError) as exc:
        raise MalformedEventError("message body is not JSON") from exc
    if isinstance(payload, dict) and payload.get("Type") == "Notification" and "Message" in payload:
        return parse_notification(payload["Message"])
    if not isinstance(payload, dict):
        raise MalformedEventError("message body is not a JSON object")
    if payload.get("Event") == "s3:TestEvent":
        return []
    records = payload.get("Records")
    if not isinstance(records, list):
        raise MalformedEventError("message body has no S3 'Records'")
    try:
        return [_object_event(record) for record in records]
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedEventError(f"S3 record without a required field ({exc})") from exc


def _object_event(record: Mapping[str, Any]) -> S3ObjectEvent:
    if record.get("eventSource") != "aws:s3":
        raise MalformedEventError(f"not an S3 record (eventSource {record.get('eventSource')!r})")
    s3 = record["s3"]
    obj = s3["object"]
    version = obj.get("versionId")
    size = obj.get("size")
    return S3ObjectEvent(
        name=str(record["eventName"]),
        bucket=str(s3["bucket"]["name"]),
        key=unquote_plus(str(obj["key"])),
        sequencer=str(obj.get("sequencer") or ""),
        version_id=str(version) if version and version != "null" else None,
        size=int(size) if isinstance(size, int) else None,
    )
