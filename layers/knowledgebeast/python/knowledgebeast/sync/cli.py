"""``knowledgebeast sync SOURCE`` and ``knowledgebeast redrive``, registered by :func:`add_sync_commands`."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

from knowledgebeast.errors import ConfigurationError


def _boto3_client() -> Any:
    try:
        import boto3
    except ImportError as exc:  # the local install has no AWS SDK unless asked for
        raise ConfigurationError("S3 sources and redrive need boto3: pip install boto3") from exc
    return boto3.client


def cmd_sync(args: argparse.Namespace, services: Any) -> int:
    package_logger = logging.getLogger("knowledgebeast")  # one line per document would drown the bar
    level = package_logger.level
    package_logger.setLevel(max(package_logger.getEffectiveLevel(), logging.WARNING))
    try:
        return _sync(args, services)
    finally:
        package_logger.setLevel(level)


def _sync(args: argparse.Namespace, services: Any) -> int:
    from tqdm import tqdm

    from knowledgebeast.sync.plan import plan_sync
    from knowledgebeast.sync.runner import SyncRunner, SyncSummary
    from knowledgebeast.sync.sources import LocalSource, S3Source, SourceProtocol

    source: SourceProtocol
    if args.source.startswith("s3://"):
        s3 = _boto3_client()("s3")
        max_bytes = services.settings.max_upload_bytes
        source = S3Source.from_uri(s3, args.source, collection=args.collection, max_bytes=max_bytes)
    else:
        source = LocalSource(Path(args.source), args.collection or "default")
    ingest = services.ingest_service
    started = time.perf_counter()
    plan = plan_sync(source.entries(), ingest.registry.live(), scope=source.scope, collection=args.collection)
    summary = SyncSummary(compare_seconds=time.perf_counter() - started)
    if args.dry_run:
        for label, items in (("add", plan.added), ("change", plan.changed)):
            for entry in items:
                print(f"would {label}: {entry.collection}\t{entry.source}")
        for record in plan.orphaned:
            print(f"would {'delete' if args.delete else 'keep (no --delete)'}: {record.collection}\t{record.source}")
        print(
            f"dry run: compared={plan.compared} to_add={len(plan.added)} to_change={len(plan.changed)} "
            f"unchanged={len(plan.unchanged)} orphaned={len(plan.orphaned)} invalid={len(plan.invalid)}"
        )
        return 1 if plan.invalid else 0
    quiet = args.quiet or not sys.stderr.isatty()
    runner = SyncRunner(
        ingest,
        source,
        # the embedded store is one process's files: one writer; a Chroma server takes several
        workers=args.workers or (1 if services.settings.embedded_store else 4),
        progress=lambda total: tqdm(total=total, desc="sync", unit="doc", disable=quiet),
    )
    runner.apply(plan, delete=args.delete, summary=summary)
    print(summary.line())
    if plan.orphaned and not args.delete:
        print(f"  {len(plan.orphaned)} indexed document(s) have no source any more: --delete removes them")
    for source_uri, reason in summary.failed:
        print(f"  failed: {source_uri}: {reason}", file=sys.stderr)
    return 1 if summary.failed else 0


def cmd_redrive(args: argparse.Namespace, services: Any) -> int:
    from knowledgebeast.sync.redrive import redrive

    result = redrive(
        _boto3_client()("sqs"), dlq_url=args.dlq, queue_url=args.queue, max_messages=args.max, dry_run=args.dry_run
    )
    verb = "would move" if args.dry_run else "moved"
    print(f"{verb} {result.seen if args.dry_run else result.moved} message(s) from the DLQ to the queue")
    return 0


def add_sync_commands(sub: Any) -> None:
    sync = sub.add_parser("sync", help="make the index equal a folder or s3://bucket/prefix (resumable)")
    sync.add_argument("source", help="a local folder or s3://bucket/prefix")
    sync.add_argument(
        "--collection", default=None, help="target collection (default: 'default'; S3: each key's first segment)"
    )
    sync.add_argument("--delete", action="store_true", help="remove indexed documents whose source is gone")
    sync.add_argument("--dry-run", action="store_true", help="only print what would change")
    sync.add_argument("--quiet", action="store_true", help="no progress bar")
    sync.add_argument(
        "--workers", type=int, default=None, help="documents ingested at once (default 4; 1 with the embedded store)"
    )
    sync.set_defaults(func=cmd_sync)

    again = sub.add_parser("redrive", help="replay the ingest dead-letter queue onto the ingest queue")
    again.add_argument("--dlq", required=True, help="URL of the dead-letter queue")
    again.add_argument("--queue", required=True, help="URL of the ingest queue")
    again.add_argument("--max", type=int, default=None, help="move at most this many messages")
    again.add_argument("--dry-run", action="store_true", help="count the messages without moving them")
    again.set_defaults(func=cmd_redrive)
