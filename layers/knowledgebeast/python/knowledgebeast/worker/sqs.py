"""SQS long-polling ingest worker: the ingest Lambda's job in a container.

Every message goes through :func:`knowledgebeast.aws.s3_events.process_sqs_event`, the function
the ingest Lambda calls, as a one-record Lambda-shaped event. So parsing, ordering, permanent
versus transient failures and logging are the Lambda's, and a batch response naming the record
means exactly what it means to Lambda's event source mapping:

- **Success** (including permanent failures, which are logged and dropped by design): the
  message is deleted at once, so a later crash never redoes it.
- **Transient failure**: the message is left alone; SQS makes it visible again after the
  visibility timeout, and after ``maxReceiveCount`` receives the redrive policy moves it to the DLQ.
- **Long files**: while a batch is in hand, a heartbeat thread keeps every unsettled message
  invisible (``ChangeMessageVisibility`` every ``heartbeat_seconds``), so no other worker picks
  up a file that is still being embedded.
- **Stop** (SIGTERM/SIGINT sets ``stop``): the message being ingested is finished and settled,
  the batch's unstarted messages are made visible again at once (visibility 0), and the loop
  ends. A message received after the stop request is released the same way. Nothing is lost: at
  worst a message whose ingest outlives the orchestrator's grace period is redelivered after its
  visibility timeout, and ingest is idempotent.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from knowledgebeast.aws.s3_events import S3Ingestor, process_sqs_event

logger = logging.getLogger(__name__)

Message = Mapping[str, Any]
#: SQS limits: at most 10 messages per receive, at most 20 s of long polling.
MAX_BATCH = 10
MAX_WAIT_SECONDS = 20


@dataclass
class WorkerStats:
    """Message counts since the worker started (what the CLI prints when it stops)."""

    received: int = 0
    deleted: int = 0
    failed: int = 0
    released: int = 0
    heartbeats: int = 0


@dataclass
class WorkerOptions:
    """How the worker polls; ``visibility_timeout`` None means the queue's own setting."""

    wait_seconds: int = MAX_WAIT_SECONDS
    batch_size: int = MAX_BATCH
    visibility_timeout: int | None = None
    heartbeat_seconds: float | None = None
    """Seconds between visibility extensions; default a third of the visibility timeout."""


@dataclass
class _InFlight:
    """Receipt handles of the messages of the current batch that are not settled yet."""

    handles: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def settle(self, message_id: str) -> None:
        with self.lock:
            self.handles.pop(message_id, None)

    def snapshot(self) -> dict[str, str]:
        with self.lock:
            return dict(self.handles)


class SqsIngestWorker:
    """Receives S3 notifications from one SQS queue and applies them with ``ingestor``.

    ``sqs`` is a boto3 SQS client; ``stop`` is set by the caller (a signal handler) to end
    :meth:`run` after the in-flight message.
    """

    def __init__(
        self,
        sqs: Any,
        queue_url: str,
        ingestor: S3Ingestor,
        *,
        options: WorkerOptions | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.sqs = sqs
        self.queue_url = queue_url
        self.ingestor = ingestor
        self.options = options or WorkerOptions()
        self.stop = stop or threading.Event()
        self.stats = WorkerStats()
        attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn", "VisibilityTimeout"])
        self.queue_arn: str = attributes["Attributes"]["QueueArn"]
        self.visibility_timeout = self.options.visibility_timeout or int(attributes["Attributes"]["VisibilityTimeout"])
        self.heartbeat_seconds = self.options.heartbeat_seconds or max(1.0, self.visibility_timeout / 3)
        self.region = self.queue_arn.split(":")[3]

    def run(self) -> WorkerStats:
        """Poll until ``stop`` is set; returns the counts."""
        logger.info(
            "ingest worker started",
            extra={"queue_url": self.queue_url, "visibility_timeout": self.visibility_timeout},
        )
        while not self.stop.is_set():
            self.poll_once()
        logger.info("ingest worker stopped", extra=vars(self.stats))
        return self.stats

    def poll_once(self) -> None:
        """One long poll and the batch it returns (if any)."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=min(max(self.options.batch_size, 1), MAX_BATCH),
            WaitTimeSeconds=min(max(self.options.wait_seconds, 0), MAX_WAIT_SECONDS),
            VisibilityTimeout=self.visibility_timeout,
            MessageSystemAttributeNames=["All"],
        )
        messages: list[Message] = response.get("Messages") or []
        if not messages:
            return
        self.stats.received += len(messages)
        if self.stop.is_set():
            self._release(messages)
            return
        self.handle_batch(messages)

    def handle_batch(self, messages: Sequence[Message]) -> None:
        """Apply the messages in order; unstarted ones are released when ``stop`` is set."""
        in_flight = _InFlight({m["MessageId"]: m["ReceiptHandle"] for m in messages})
        heartbeat_done = threading.Event()
        heartbeat = threading.Thread(
            target=self._heartbeat, args=(in_flight, heartbeat_done), name="sqs-heartbeat", daemon=True
        )
        heartbeat.start()
        unstarted = list(messages)
        try:
            while unstarted and not self.stop.is_set():
                message = unstarted.pop(0)
                logger.info("message started", extra={"message_id": message["MessageId"]})
                succeeded = self._apply(message)
                in_flight.settle(message["MessageId"])
                if succeeded:
                    self._delete(message)
        finally:
            heartbeat_done.set()
            heartbeat.join()
        if unstarted:
            self._release(unstarted)

    def _apply(self, message: Message) -> bool:
        """True when the Lambda code path reports the record as done (delete it)."""
        event = {"Records": [self._lambda_record(message)]}
        try:
            response = process_sqs_event(event, None, self.ingestor)
        except BatchProcessingError:  # Powertools' "every record failed": for one record, this one
            response = {"batchItemFailures": [{"itemIdentifier": message["MessageId"]}]}
        failed = {item["itemIdentifier"] for item in response.get("batchItemFailures", [])}
        if message["MessageId"] in failed:
            self.stats.failed += 1
            logger.warning(
                "message failed; SQS redelivers it after the visibility timeout",
                extra={"message_id": message["MessageId"]},
            )
            return False
        return True

    def _lambda_record(self, message: Message) -> dict[str, Any]:
        """The record Lambda's SQS event source mapping would have delivered for ``message``."""
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": dict(message.get("Attributes") or {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }

    def _heartbeat(self, in_flight: _InFlight, done: threading.Event) -> None:
        while not done.wait(self.heartbeat_seconds):
            handles = in_flight.snapshot()
            if not handles:
                continue
            try:
                self._change_visibility(handles, self.visibility_timeout)
                self.stats.heartbeats += 1
                logger.debug("visibility extended", extra={"messages": len(handles)})
            except Exception:
                logger.warning("could not extend message visibility", exc_info=True)

    def _delete(self, message: Message) -> None:
        self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
        self.stats.deleted += 1

    def _release(self, messages: Sequence[Message]) -> None:
        """Make ``messages`` visible again now, for another worker (or this one after a restart)."""
        self._change_visibility({m["MessageId"]: m["ReceiptHandle"] for m in messages}, 0)
        self.stats.released += len(messages)
        logger.info("messages released on stop", extra={"messages": len(messages)})

    def _change_visibility(self, handles: Mapping[str, str], seconds: int) -> None:
        entries = [
            {"Id": str(index), "ReceiptHandle": handle, "VisibilityTimeout": seconds}
            for index, handle in enumerate(handles.values())
        ]
        response = self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
        for failure in response.get("Failed") or []:
            # a handle settled meanwhile (deleted) is expected here; anything else is worth a line
            logger.info("visibility change refused", extra={"sqs_code": failure.get("Code")})
