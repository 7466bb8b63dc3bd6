"""S3 object events -> index, replace or delete one document per object.

Rules, and why:

- **Ordering**: the event's ``sequencer`` goes to the ingest service, which orders every write of
  a document (:mod:`knowledgebeast.versions`): a late or duplicate event is ``skipped`` before
  the object is even downloaded, and whatever the interleaving of concurrent Lambdas the index
  ends with the newest version. Events without a sequencer (``ObjectCreated:Reconcile`` sent by
  the reconcile function) are ordered after what was indexed when they were read.
- **Vanished objects**: an ObjectCreated whose object is gone (``NoSuchKey``) is skipped: the
  delete's own event removes the document.
- **Versioned buckets**: a ``DeleteMarkerCreated`` removes the document; deleting one *version*
  (``ObjectRemoved:Delete`` with a ``versionId``) while the key still exists re-indexes the
  now-current version instead, so the index follows what a plain GET returns. Lifecycle
  expirations (``LifecycleExpiration:*``, if the notification subscribes them) count as deletes.
- Changing only tags emits no ObjectCreated event: re-upload (or copy onto itself) to re-index,
  or let the scheduled reconcile pick the change up (it compares ETags, so not tag-only changes).

Failure policy (one SQS message = one S3 notification):

- **Permanent** (the same bytes will fail the same way: ``ParseError``, ``UnsupportedFormatError``,
  ``ValidationError``, a malformed message): logged at ERROR with bucket, key, code and reason
  (``"failure": "permanent"``) and counted as ``ingest_documents_total{result="failed"}``; the
  message is then *deleted* (reported as a success). Retrying would burn five receives and up to
  five visibility timeouts before the DLQ with the same result; the fix is a new upload, which
  produces a new event. A previously indexed version of that key stays searchable.
- **Transient** (store unreachable, S3 throttling or 5xx, anything unexpected): the exception
  propagates, the message alone is retried (see :mod:`knowledgebeast.aws.sqs_batch`); after
  ``maxReceiveCount`` receives it lands in the DLQ (``knowledgebeast redrive`` replays it).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Protocol

from knowledgebeast.aws.s3_notifications import MalformedEventError, S3ObjectEvent, parse_notification
from knowledgebeast.aws.s3_objects import DEFAULT_COLLECTION, collection_for_key, object_exists, read_object
from knowledgebeast.errors import (
    KnowledgeBeastError,
    ParseError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from knowledgebeast.ingest import IngestService
from knowledgebeast.observability import metrics

logger = logging.getLogger(__name__)

#: Errors that fail identically on every retry.
PERMANENT_ERRORS: tuple[type[KnowledgeBeastError], ...] = (
    ParseError,
    ValidationError,
    PayloadTooLargeError,
    UnsupportedMediaTypeError,
)


class _IngestServices(Protocol):
    """The part of :class:`~knowledgebeast.factory.Services` used here (built lazily)."""

    @property
    def ingest_service(self) -> IngestService: ...


@dataclass(frozen=True)
class RecordResult:
    """What happened to one S3 record: an ingest outcome, ``ignored`` or ``failed`` (permanent)."""

    outcome: str
    source: str
    collection: str | None = None
    chunks: int = 0
    reason: str = ""


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

    def _created(self, event: S3ObjectEvent) -> RecordResult:
        collection = collection_for_key(event.key, self.default_collection)
        check = self.ingest.version_check(collection, event.source, event.sequencer)
        if check.stale:
            return RecordResult("skipped", event.source, collection, reason="a newer event was already applied")
        obj = read_object(
            self.s3,
            event.bucket,
            event.key,
            version_id=event.version_id,
            max_bytes=self.max_object_bytes,
            read_tags=self.read_tags,
        )
        if obj is None:
            return RecordResult("skipped", event.source, collection, reason="object no longer exists")
        result = self.ingest.ingest_bytes(
            obj.data,
            collection=collection,
            source=event.source,
            filename=event.filename,
            media_type=obj.content_type,
            metadata=obj.metadata,
            sequencer=event.sequencer,
            stamp=obj.stamp,
            check=check,
        )
        return RecordResult(result.outcome, event.source, collection, result.chunks)

    def _removed(self, event: S3ObjectEvent) -> RecordResult:
        collection = collection_for_key(event.key, self.default_collection)
        # an unordered delete (reconcile) is checked before the object is seen gone, like a read
        check = None if event.sequencer else self.ingest.version_check(collection, event.source)
        deleted_version = event.name.endswith(":Delete") and event.version_id
        if (deleted_version or check is not None) and object_exists(self.s3, event.bucket, event.key):
            result = self._created(replace(event, name="ObjectCreated:Current", version_id=None))
            return replace(result, reason="the key still exists; its current version is indexed")
        deleted = self.ingest.delete_source(collection, event.source, sequencer=event.sequencer, check=check)
        return RecordResult(deleted.outcome, event.source, collection, deleted.chunks)

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
