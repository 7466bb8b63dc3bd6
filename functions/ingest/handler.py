"""Ingest Lambda: S3 ObjectCreated/ObjectRemoved notifications from SQS -> index or delete documents.

Only failed messages are retried (``batchItemFailures``; enable ReportBatchItemFailures on the event
source). Permanent failures (unparseable or unsupported files, invalid collection names) are logged
and dropped rather than retried into the DLQ; transient ones (store down, S3 throttling) are retried
and reach the DLQ after maxReceiveCount. Rules and reasons: ``knowledgebeast.aws.s3_events``.
"""

from __future__ import annotations

from typing import Any

import boto3
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.config import Config

from knowledgebeast.aws.runtime import lambda_logger, serverless_ingest_settings, warm
from knowledgebeast.aws.s3_events import S3Ingestor, process_sqs_event
from knowledgebeast.config import get_settings
from knowledgebeast.factory import build_services

settings = serverless_ingest_settings(get_settings())
logger = lambda_logger("knowledgebeast-ingest", settings.log_level)
services = build_services(settings)
warm(services, "ingest_service")
retries = Config(retries={"mode": "adaptive", "max_attempts": 8})
ingestor = S3Ingestor(services, boto3.client("s3", config=retries), max_object_bytes=settings.max_upload_bytes)
sqs = boto3.client("sqs", config=retries)


@logger.inject_lambda_context(clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """One SQS batch; each message's id becomes the correlation id of its log lines."""
    return process_sqs_event(event, context, ingestor, sqs=sqs, log=logger)
