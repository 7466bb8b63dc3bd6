"""``knowledgebeast worker ingest --queue URL``: the SQS ingest worker on the CLI's services.

Exit codes: 0 after a graceful stop (SIGTERM or SIGINT), 2 on a configuration error.
"""

from __future__ import annotations

import argparse
import signal
import threading
from typing import TYPE_CHECKING, Any

from knowledgebeast.worker.sqs import MAX_BATCH, MAX_WAIT_SECONDS, WorkerOptions

if TYPE_CHECKING:
    from knowledgebeast.factory import Services


def cmd_worker_ingest(args: argparse.Namespace, services: Services) -> int:
    import boto3
    from botocore.config import Config

    from knowledgebeast.aws.s3_events import S3Ingestor
    from knowledgebeast.errors import ConfigurationError
    from knowledgebeast.worker.sqs import SqsIngestWorker

    settings = services.settings
    queue_url = args.queue or settings.ingest_queue_url
    if not queue_url:
        raise ConfigurationError("worker ingest needs --queue URL (or INGEST_QUEUE_URL)")
    retries = Config(retries={"mode": "adaptive", "max_attempts": 8})
    # boto3 honours AWS_ENDPOINT_URL itself (LocalStack, moto_server): nothing to configure here
    s3 = boto3.client("s3", config=retries)
    sqs = boto3.client("sqs", config=retries)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    ingestor = S3Ingestor(services, s3, max_object_bytes=settings.max_upload_bytes)
    options = WorkerOptions(
        wait_seconds=args.wait_seconds,
        batch_size=args.batch_size,
        visibility_timeout=args.visibility_timeout,
        heartbeat_seconds=args.heartbeat_seconds,
    )
    stats = SqsIngestWorker(sqs, queue_url, ingestor, options=options, stop=stop).run()
    print(
        f"stopped: received={stats.received} deleted={stats.deleted} failed={stats.failed} "
        f"released={stats.released} heartbeats={stats.heartbeats}"
    )
    return 0


def add_worker_commands(subparsers: Any) -> None:
    worker = subparsers.add_parser("worker", help="long-running workers for containers")
    kinds = worker.add_subparsers(dest="worker", required=True)
    ingest = kinds.add_parser("ingest", help="apply S3 notifications from an SQS queue (the ingest Lambda's job)")
    ingest.add_argument("--queue", help="SQS queue URL (default: INGEST_QUEUE_URL)")
    ingest.add_argument("--wait-seconds", type=int, default=MAX_WAIT_SECONDS, help="long-poll wait, 0-20 s")
    ingest.add_argument("--batch-size", type=int, default=MAX_BATCH, help="messages per receive, 1-10")
    ingest.add_argument("--visibility-timeout", type=int, help="seconds (default: the queue's setting)")
    ingest.add_argument("--heartbeat-seconds", type=float, help="default: a third of the visibility timeout")
    ingest.set_defaults(func=cmd_worker_ingest)
