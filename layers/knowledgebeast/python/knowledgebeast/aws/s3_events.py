"""S3 event notifications delivered through SQS -> index, replace or delete one document per object.

Rules, and why:

- **Keys** arrive URL-encoded (space as ``+``, UTF-8 as ``%XX``). They are decoded exactly once,
  here, with ``unquote_plus`` on the raw event: decoding twice (or using an already-decoded key
  such as Powertools' ``S3Event.object_key``) turns a literal ``+`` into a space.
- **Collection** = the first key segment (``<collection>/path/file.pdf``); a key without ``/``
  goes to ``default``. An invalid or reserved collection name is a permanent failure.
- **Source** = ``s3://bucket/key``: the document's identity, so a new upload of the same key
  replaces the old version and a delete removes it.
- **Ordering**: the event's ``sequencer`` is passed to the ingest service, whose registry keeps the
  last sequencer per document and a tombstone for deletes. A late or duplicate event is
  ``skipped`` (before the object is even downloaded), so an old create can never resurrect
  old content or a deleted document.
- **Vanished objects**: an ObjectCreated whose object is gone (``NoSuchKey``) is skipped: the
  delete's own event removes the document.
- **Versioned buckets**: a ``DeleteMarkerCreated`` removes the document; deleting one *version*
  (``ObjectRemoved:Delete`` with a ``versionId``) while the key still exists re-indexes the
  now-current version instead, so the index follows what a plain GET returns. Lifecycle
  expirations (``LifecycleExpiration:*``, if the notification subscribes them) count as deletes.
- **Metadata**: S3 user metadata (``x-amz-meta-<name>``) becomes ``meta_<name>`` and object tags
  become ``tag_<name>`` in every chunk's metadata (names lower-cased, other characters as ``_``;
  values are strings), so queries can filter on them. Tags win when the 32-key limit is reached.
  Changing only tags emits no ObjectCreated event: re-upload (or copy onto itself) to re-index.

Failure policy (one SQS message = one S3 notification):

- **Permanent** (the same bytes will fail the same way: ``ParseError``, ``UnsupportedFormatError``,
  ``ValidationError``, a malformed message): logged at ERROR with bucket, key, code and reason
  (``"failure": "permanent"``) and counted as ``ingest_documents_total{result="failed"}``; the
  message is then *deleted* (reported as a success). Retrying would burn five receives and up to
  five visibility timeouts before the DLQ with the same result, and would delay the other
  documents in the queue; the fix is a new upload, which produces a new event. A previously
  indexed version of that key stays searchable.
- **Transient** (store unreachable, S3 throttling or 5xx, anything unexpected): the exception
  propagates, the message alone is reported in ``batchItemFailures`` and SQS redelivers it after
  the visibility timeout; after ``maxReceiveCount`` receives it lands in the DLQ for an operator.
  Ingest is idempotent, so a retry after a crash redoes exactly the missing work.
- **Time budget**: a record is not started when less than ``min_remaining_ms`` of the invocation is
  left (except the first of a batch); it is reported failed and made visible again at once, so a
  batch of large documents never times out half-way and takes its finished siblings with it.
"""

from __future__ import annotations

import email.header
import json
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import unquote_plus

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from knowledgebeast.errors import (
    KnowledgeBeastError,
    ParseError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from knowledgebeast.identity import check_collection_name, document_id
from knowledgebeast.ingest import MAX_USER_METADATA_KEYS, IngestService
from knowledgebeast.observability import metrics
from knowledgebeast.parsing.base import too_large
from knowledgebeast.registry import sequencer_is_newer

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "default"
META_PREFIX = "meta_"
TAG_PREFIX = "tag_"
MAX_METADATA_VALUE_CHARS = 1024
#: Errors that fail identically on every retry.
PERMANENT_ERRORS: tuple[type[KnowledgeBeastError], ...] = (
    ParseError,
    ValidationError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)
#: S3 error codes meaning "the object (version) is gone", not "S3 is unwell".
MISSING_OBJECT_CODES = frozenset({"NoSuchKey", "NoSuchVersion", "404", "NotFound"})
_NAME_JUNK = re.compile(r"[^a-z0-9_]+")


class MalformedEventError(ValidationError):
    """The SQS message is not an S3 event notification this function understands."""

    code = "malformed_event"


class DeferredError(Exception):
    """Too little time left in this invocation to start another record: it is retried, not failed."""


class _CorrelatingLogger(Protocol):
    def set_correlation_id(self, value: str | None) -> None: ...


class _IngestServices(Protocol):
    """The part of :class:`~knowledgebeast.factory.Services` used here (built lazily)."""

    @property
    def ingest_service(self) -> IngestService: ...


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


@dataclass(frozen=True)
class RecordResult:
    """What happened to one S3 record: an ingest outcome, ``ignored`` or ``failed`` (permanent)."""

    outcome: str
    source: str
    collection: str | None = None
    chunks: int = 0
    reason: str = ""


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


def collection_for_key(key: str, default: str = DEFAULT_COLLECTION) -> str:
    """The first key segment, or ``default`` for a key without ``/``; validated."""
    head, slash, _ = key.partition("/")
    return check_collection_name(head if slash else default)


def chunk_metadata(user_metadata: Mapping[str, str], tags: Iterable[Mapping[str, str]]) -> dict[str, str]:
    """S3 tags and user metadata as filterable chunk metadata (``tag_<name>``, ``meta_<name>``)."""
    pairs = [(TAG_PREFIX, tag.get("Key", ""), tag.get("Value", "")) for tag in tags]
    pairs += [(META_PREFIX, name, value) for name, value in sorted(user_metadata.items())]
    out: dict[str, str] = {}
    for prefix, name, value in pairs:
        clean = _NAME_JUNK.sub("_", str(name).lower()).strip("_")[:64]
        text = _decode_mime_words(str(value)).strip()[:MAX_METADATA_VALUE_CHARS]
        key = prefix + clean
        if clean and text and key not in out:
            if len(out) >= MAX_USER_METADATA_KEYS:
                logger.warning("S3 metadata over the key limit dropped", extra={"metadata_key": key})
                continue
            out[key] = text
    return out


def _decode_mime_words(value: str) -> str:
    """S3 returns non-ASCII user metadata RFC 2047-encoded (``=?UTF-8?B?...?=``)."""
    if "=?" not in value:
        return value
    try:
        return str(email.header.make_header(email.header.decode_header(value)))
    except (ValueError, LookupError):
        return value


def _error_code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


class S3Ingestor:
    """Applies S3 object events to the index through :class:`~knowledgebeast.ingest.IngestService`.

    ``services`` is read lazily (``services.ingest_service``) so a store that was down at cold start
    is retried per record instead of failing the container. ``s3`` is a boto3 S3 client.
    """

    def __init__(
        self,
        services: _IngestServices,
        s3: Any,
        *,
        max_object_bytes: int,
        default_collection: str = DEFAULT_COLLECTION,
        read_tags: bool = True,
    ) -> None:
        self.services = services
        self.s3 = s3
        self.max_object_bytes = max_object_bytes
        self.default_collection = default_collection
        self.read_tags = read_tags

    @property
    def ingest(self) -> IngestService:
        return self.services.ingest_service

    # messages and records ----------------------------------------------------------------------
    def handle_message(self, body: str) -> list[RecordResult]:
        """Apply every record of one notification; permanent failures are logged, not raised."""
        try:
            events = parse_notification(body)
        except MalformedEventError as exc:
            return [self._permanent(None, exc)]
        if not events:
            logger.info("s3:TestEvent or empty notification ignored")
        return [self.handle(event) for event in events]

    def handle(self, event: S3ObjectEvent) -> RecordResult:
        try:
            if event.key.endswith("/"):
                result = RecordResult("ignored", event.source, reason="folder placeholder")
            elif event.created:
                result = self._created(event)
            elif event.removed:
                result = self._removed(event)
            else:
                result = RecordResult("ignored", event.source, reason=f"event {event.name} is not handled")
        except PERMANENT_ERRORS as exc:
            return self._permanent(event, exc)
        logger.info(
            "s3 event applied",
            extra={
                "event_name": event.name,
                "bucket": event.bucket,
                "key": event.key,
                "sequencer": event.sequencer,
                "outcome": result.outcome,
                "reason": result.reason,
            },
        )
        return result

    # created -----------------------------------------------------------------------------------
    def _created(self, event: S3ObjectEvent) -> RecordResult:
        collection = collection_for_key(event.key, self.default_collection)
        if self._already_newer(collection, event):
            return RecordResult("skipped", event.source, collection, reason="a newer event was already applied")
        try:
            obj = self.s3.get_object(**self._object_args(event))
            body = obj["Body"]
            try:
                size = int(obj.get("ContentLength") or 0)
                if size > self.max_object_bytes:
                    raise too_large(event.filename, "object size in bytes", size, self.max_object_bytes)
                data = body.read()
            finally:
                body.close()
            tags = self.s3.get_object_tagging(**self._object_args(event))["TagSet"] if self.read_tags else []
        except Exception as exc:
            if _error_code(exc) in MISSING_OBJECT_CODES:
                return RecordResult("skipped", event.source, collection, reason="object no longer exists")
            raise
        result = self.ingest.ingest_bytes(
            data,
            collection=collection,
            source=event.source,
            filename=event.filename,
            media_type=obj.get("ContentType"),
            metadata=chunk_metadata(obj.get("Metadata") or {}, tags),
            sequencer=event.sequencer,
        )
        return RecordResult(result.outcome, event.source, collection, result.chunks)

    def _already_newer(self, collection: str, event: S3ObjectEvent) -> bool:
        """Cheap pre-check so stale and duplicate events never download the object."""
        if not event.sequencer:
            return False
        existing = self.ingest.registry.get(document_id(collection, event.source))
        return bool(existing and existing.sequencer and not sequencer_is_newer(event.sequencer, existing.sequencer))

    @staticmethod
    def _object_args(event: S3ObjectEvent) -> dict[str, str]:
        args = {"Bucket": event.bucket, "Key": event.key}
        if event.version_id:
            args["VersionId"] = event.version_id
        return args

    # removed -----------------------------------------------------------------------------------
    def _removed(self, event: S3ObjectEvent) -> RecordResult:
        collection = collection_for_key(event.key, self.default_collection)
        if event.name.endswith(":Delete") and event.version_id and self._exists(event):
            current = replace(event, version_id=None)
            result = self._created(current)
            return replace(result, reason="a version was deleted; the key's current version is indexed")
        deleted = self.ingest.delete_source(collection, event.source, sequencer=event.sequencer)
        return RecordResult(deleted.outcome, event.source, collection, deleted.chunks)

    def _exists(self, event: S3ObjectEvent) -> bool:
        try:
            self.s3.head_object(Bucket=event.bucket, Key=event.key)
        except Exception as exc:
            if _error_code(exc) in MISSING_OBJECT_CODES:
                return False
            raise
        return True

    # failures ----------------------------------------------------------------------------------
    @staticmethod
    def _permanent(event: S3ObjectEvent | None, exc: KnowledgeBeastError) -> RecordResult:
        source = event.source if event else ""
        logger.error(
            "s3 event failed permanently; not retried",
            extra={
                "failure": "permanent",
                "event_name": event.name if event else None,
                "bucket": event.bucket if event else None,
                "key": event.key if event else None,
                "sequencer": event.sequencer if event else None,
                "error": exc.code,
                "reason": exc.message,
            },
        )
        metrics.count_ingest("failed", 0)
        return RecordResult("failed", source, reason=exc.message)


def process_sqs_event(
    event: dict[str, Any],
    context: LambdaContext | None,
    ingestor: S3Ingestor,
    *,
    min_remaining_ms: int = 60_000,
    sqs: Any = None,
    log: _CorrelatingLogger | None = None,
) -> dict[str, Any]:
    """Run an SQS batch through ``ingestor``; the response lists exactly the records to retry.

    ``sqs`` (a boto3 SQS client, optional) makes deferred records visible again immediately
    instead of after the queue's visibility timeout. ``log`` gets each message id as correlation id.
    """
    processor = BatchProcessor(event_type=EventType.SQS)
    state = {"started": False}

    def record_handler(record: SQSRecord) -> list[RecordResult]:
        if log is not None:
            log.set_correlation_id(record.message_id)
        if state["started"] and context is not None and context.get_remaining_time_in_millis() < min_remaining_ms:
            logger.info("not enough time left: message deferred", extra={"message_id": record.message_id})
            _release(sqs, record)
            raise DeferredError(f"less than {min_remaining_ms} ms left: message {record.message_id} deferred")
        state["started"] = True
        try:
            return ingestor.handle_message(record.body)
        except Exception:
            logger.exception("s3 event failed; the message will be retried", extra={"message_id": record.message_id})
            raise

    response: dict[str, Any] = dict(
        process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
    )
    return response


def _release(sqs: Any, record: SQSRecord) -> None:
    """Best effort: make a deferred message visible again now (needs sqs:ChangeMessageVisibility)."""
    if sqs is None:
        return
    try:
        account, name = record.event_source_arn.split(":")[4:6]
        queue_url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
        sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=record.receipt_handle, VisibilityTimeout=0)
    except Exception:
        logger.warning("could not release a deferred message early", extra={"message_id": record.message_id})
