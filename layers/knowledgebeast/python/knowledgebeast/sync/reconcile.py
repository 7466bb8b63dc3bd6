"""Scheduled reconcile: compare the documents bucket with the registry, repair through the ingest queue.

Repairs are S3-shaped notifications (``ObjectCreated:Reconcile`` / ``ObjectRemoved:Reconcile``,
no sequencer) sent to the ingest queue, so the ingest function does the heavy lifting with its
usual retries and DLQ, and this function needs no model. A run sends at most ``max_repairs``
(missing first, then stale, then orphaned): the rest waits for the next run, so a huge drift
never makes one invocation time out. Each run reports what it found as metrics (missing, stale,
orphaned, repaired); drift that is still there run after run means repairs are failing, which is
what the CDK alarm watches.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote_plus

from knowledgebeast.observability import metrics
from knowledgebeast.registry import DocumentRegistry
from knowledgebeast.sync.plan import plan_sync
from knowledgebeast.sync.sources import S3Source

logger = logging.getLogger(__name__)
SEND_BATCH = 10
CREATED = "ObjectCreated:Reconcile"
REMOVED = "ObjectRemoved:Reconcile"


@dataclass(frozen=True)
class ReconcileReport:
    compared: int
    missing: int
    stale: int
    orphaned: int
    repaired: int

    @property
    def drift(self) -> int:
        return self.missing + self.stale + self.orphaned

    def to_dict(self) -> dict[str, int]:
        return {**asdict(self), "drift": self.drift}


def repair_notification(event_name: str, bucket: str, key: str, size: int = 0) -> str:
    """An S3 notification as S3 would write it (key URL-encoded), without a sequencer."""
    record = {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "eventName": event_name,
        "eventTime": datetime.now(UTC).isoformat(),
        "s3": {"bucket": {"name": bucket}, "object": {"key": quote_plus(key, safe="/"), "size": size}},
    }
    return json.dumps({"Records": [record]})


def reconcile(
    registry: DocumentRegistry, source: S3Source, sqs: Any, queue_url: str, *, max_repairs: int
) -> ReconcileReport:
    plan = plan_sync(source.entries(), registry.live(), scope=source.scope)
    prefix = f"s3://{source.bucket}/"
    bodies = [repair_notification(CREATED, source.bucket, e.name, e.stamp.size) for e in plan.added + plan.changed]
    bodies += [repair_notification(REMOVED, source.bucket, r.source.removeprefix(prefix)) for r in plan.orphaned]
    repaired = 0
    for start in range(0, min(len(bodies), max_repairs), SEND_BATCH):
        batch = bodies[start : min(start + SEND_BATCH, max_repairs)]
        sent = sqs.send_message_batch(
            QueueUrl=queue_url, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(batch)]
        )
        repaired += len(sent.get("Successful", []))
    report = ReconcileReport(plan.compared, len(plan.added), len(plan.changed), len(plan.orphaned), repaired)
    metrics.observe_reconcile(missing=report.missing, stale=report.stale, orphaned=report.orphaned, repaired=repaired)
    logger.info("reconcile run", extra={"bucket": source.bucket, "prefix": source.prefix, **report.to_dict()})
    return report
