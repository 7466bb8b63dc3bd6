"""An SQS batch of S3 notifications -> ``batchItemFailures`` listing exactly the messages to retry.

- **Transient** failures (the exception propagates from the ingestor) fail their message alone;
  SQS redelivers it after the visibility timeout and, after ``maxReceiveCount``, moves it to the
  DLQ. Ingest is idempotent, so a retry after a crash redoes exactly the missing work.
- **Time budget**: a record is not started when less than ``min_remaining_ms`` of the invocation is
  left (except the first of a batch); it is reported failed and made visible again at once, so a
  batch of large documents never times out half-way and takes its finished siblings with it.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from knowledgebeast.aws.s3_ingestor import RecordResult, S3Ingestor

logger = logging.getLogger(__name__)


class DeferredError(Exception):
    """Too little time left in this invocation to start another record: it is retried, not failed."""


class _CorrelatingLogger(Protocol):
    def set_correlation_id(self, value: str | None) -> None: ...


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
