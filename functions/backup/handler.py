"""Hourly backup Lambda (EventBridge): a resumable export to BACKUP_BUCKET; rules in knowledgebeast.backup.export."""

from __future__ import annotations

import boto3
from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from knowledgebeast.aws.runtime import lambda_logger
from knowledgebeast.backup.export import BackupService
from knowledgebeast.backup.storage import S3BlobStore
from knowledgebeast.config import get_settings
from knowledgebeast.errors import ConfigurationError
from knowledgebeast.factory import build_services
from knowledgebeast.observability import metrics as kb_metrics

MARGIN_SECONDS = 60.0  # left to finish the current page and save the cursor before the timeout
settings = get_settings()
if not settings.backup_bucket:
    raise ConfigurationError("BACKUP_BUCKET is not set")
logger = lambda_logger("knowledgebeast-backup", settings.log_level)
metrics = Metrics(namespace="KnowledgeBeast", service="knowledgebeast-backup")
services = build_services(settings)
blobs = S3BlobStore(boto3.client("s3"), settings.backup_bucket)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, object]:
    budget = max(context.get_remaining_time_in_millis() / 1000 - MARGIN_SECONDS, 0.0)
    result = BackupService(services.store, blobs).run(deadline_seconds=budget)
    if result.complete:
        kb_metrics.mark_backup_success()
        metrics.add_metric(name="BackupSuccess", unit=MetricUnit.Count, value=1)
    logger.info(f"backup {result.status}", extra={"scheduled_at": event.time, **result.to_dict()})
    return result.to_dict()
