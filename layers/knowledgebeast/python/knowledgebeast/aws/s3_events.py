"""S3 event notifications delivered through SQS -> the index: the entry points in one place.

``functions/ingest/handler.py`` (and the container worker) import :class:`S3Ingestor` and
:func:`process_sqs_event` from here; the parts live in one module per concern:

- :mod:`~knowledgebeast.aws.s3_notifications` parses notifications (keys decoded once);
- :mod:`~knowledgebeast.aws.s3_objects` reads an object (collection, metadata and tags, stamp);
- :mod:`~knowledgebeast.aws.s3_ingestor` applies events (ordering, vanished objects, versions,
  permanent vs transient failures);
- :mod:`~knowledgebeast.aws.sqs_batch` runs an SQS batch (partial failures, time budget).
"""

from knowledgebeast.aws.s3_ingestor import PERMANENT_ERRORS, RecordResult, S3Ingestor
from knowledgebeast.aws.s3_notifications import MalformedEventError, S3ObjectEvent, parse_notification
from knowledgebeast.aws.s3_objects import (
    DEFAULT_COLLECTION,
    META_PREFIX,
    MISSING_OBJECT_CODES,
    TAG_PREFIX,
    chunk_metadata,
    collection_for_key,
)
from knowledgebeast.aws.sqs_batch import DeferredError, process_sqs_event

__all__ = [
    "DEFAULT_COLLECTION",
    "META_PREFIX",
    "MISSING_OBJECT_CODES",
    "PERMANENT_ERRORS",
    "TAG_PREFIX",
    "DeferredError",
    "MalformedEventError",
    "RecordResult",
    "S3Ingestor",
    "S3ObjectEvent",
    "chunk_metadata",
    "collection_for_key",
    "parse_notification",
    "process_sqs_event",
]
