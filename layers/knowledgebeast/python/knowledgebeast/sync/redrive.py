"""Replay the ingest dead-letter queue onto the ingest queue, after the cause was fixed.

Each message is sent to the queue first and deleted from the DLQ only once the send succeeded,
so a crash mid-way duplicates a message rather than losing it (ingest is idempotent and ordered:
a duplicate is skipped). Message bodies and attributes are kept. SQS' own StartMessageMoveTask
does the same server-side; this command also runs against any SQS-compatible endpoint and can be
bounded (``--max``) or rehearsed (``--dry-run``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BATCH = 10


@dataclass
class RedriveResult:
    moved: int = 0
    seen: int = 0


def redrive(
    sqs: Any, *, dlq_url: str, queue_url: str, max_messages: int | None = None, dry_run: bool = False
) -> RedriveResult:
    """Move up to ``max_messages`` (all, by default) from ``dlq_url`` to ``queue_url``."""
    result = RedriveResult()
    if dry_run:  # counting by receiving would hide the messages for a while: ask for the count instead
        attributes = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages"])
        waiting = int(attributes["Attributes"]["ApproximateNumberOfMessages"])
        result.seen = waiting if max_messages is None else min(waiting, max_messages)
        return result
    while max_messages is None or result.seen < max_messages:
        wanted = BATCH if max_messages is None else min(BATCH, max_messages - result.seen)
        received = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=wanted,
            WaitTimeSeconds=0,
            VisibilityTimeout=60,
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not received:
            break
        result.seen += len(received)
        entries = [{"Id": str(i), "MessageBody": m["Body"], **_attributes(m)} for i, m in enumerate(received)]
        sent = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
        ok = {entry["Id"] for entry in sent.get("Successful", [])}
        done = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received) if str(i) in ok]
        if done:
            sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
        result.moved += len(done)
        if len(done) < len(received):
            failed = [f"{f.get('Id')}: {f.get('Message')}" for f in sent.get("Failed", [])]
            raise RuntimeError(f"could not send {len(received) - len(done)} message(s) to the queue: {failed}")
    return result


def _attributes(message: dict[str, Any]) -> dict[str, Any]:
    attributes = message.get("MessageAttributes")
    return {"MessageAttributes": attributes} if attributes else {}
