"""Scheduled reconcile Lambda (EventBridge): bucket vs registry, repairs sent to the ingest queue.

Rules and reasons: ``knowledgebeast.sync.reconcile``. Needs the store (registry reads) but no model.
"""

from __future__ import annotations

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext

from knowledgebeast.aws.runtime import lambda_logger
from knowledgebeast.config import get_settings
from knowledgebeast.errors import ConfigurationError
from knowledgebeast.factory import build_services
from knowledgebeast.registry import DocumentRegistry
from knowledgebeast.sync.reconcile import reconcile
from knowledgebeast.sync.sources import S3Source

settings = get_settings()
if not settings.documents_bucket or not settings.ingest_queue_url:
    raise ConfigurationError("DOCUMENTS_BUCKET and INGEST_QUEUE_URL must be set")
logger = lambda_logger("knowledgebeast-reconcile", settings.log_level)
registry = DocumentRegistry(build_services(settings).store)
source = S3Source(
    boto3.client("s3"), settings.documents_bucket, settings.reconcile_prefix, collection=None, max_bytes=0
)
sqs = boto3.client("sqs")


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, object], context: LambdaContext) -> dict[str, int]:
    """One bounded run; the report is also logged and emitted as metrics."""
    queue_url = str(settings.ingest_queue_url)
    report = reconcile(registry, source, sqs, queue_url, max_repairs=settings.reconcile_max_repairs)
    return report.to_dict()
