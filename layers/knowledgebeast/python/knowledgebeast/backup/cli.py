"""``knowledgebeast backup | restore | verify``: the backup tools on the CLI's shared services.

Exit codes: 0 done / valid; 1 backup incomplete (run again to resume) or backup invalid; 2 an
error (printed by the CLI), e.g. a restore refused because of a corrupt part or existing data.
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from knowledgebeast.backup.manifest import KINDS

if TYPE_CHECKING:
    from knowledgebeast.config import Settings
    from knowledgebeast.factory import Services

BACKUP_HELP = "a backup folder (directory or s3://bucket/prefix/{hourly|daily}/ID), or DESTINATION/latest"


def default_destination(settings: Settings) -> str:
    """The backup bucket in AWS; locally a folder next to the embedded store."""
    return f"s3://{settings.backup_bucket}" if settings.backup_bucket else str(settings.data_dir / "backups")


def cmd_backup(args: argparse.Namespace, services: Services) -> int:
    from knowledgebeast.backup.export import BackupService
    from knowledgebeast.backup.storage import open_blob_store

    blobs = open_blob_store(args.dest or default_destination(services.settings))
    service = BackupService(services.store, blobs, page_size=args.page_size)
    result = service.run(kind=args.kind, deadline_seconds=args.deadline)
    print(
        f"{result.status}: {result.location} ({result.collections} collections, {result.chunks} chunks, "
        f"{result.parts} parts, {result.bytes} bytes, {result.seconds:.1f} s)"
    )
    if result.changed_collections:
        print(f"  changed while exported: {', '.join(result.changed_collections)}", file=sys.stderr)
    return 0 if result.complete else 1


def cmd_restore(args: argparse.Namespace, services: Services) -> int:
    from knowledgebeast.backup.manifest import open_backup
    from knowledgebeast.backup.restore import restore_backup

    result = restore_backup(services.store, open_backup(args.backup), force=args.force)
    print(f"restored {result.backup_id}: {result.chunks} chunks in {len(result.collections)} collections")
    for name, count in result.collections.items():
        print(f"  {name}\t{count}")
    return 0


def cmd_verify(args: argparse.Namespace, services: Services | None = None) -> int:
    from knowledgebeast.backup.manifest import open_backup
    from knowledgebeast.backup.verify import verify_backup

    report = verify_backup(open_backup(args.backup))
    print(report.render())
    return 0 if report.ok else 1


def add_verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("backup", metavar="BACKUP", help=BACKUP_HELP)


def add_backup_commands(subparsers: Any) -> None:
    backup = subparsers.add_parser("backup", help="back up every collection (the document registry included)")
    backup.add_argument(
        "--dest", help="directory or s3://bucket/prefix (default: BACKUP_BUCKET, else DATA_DIR/backups)"
    )
    backup.add_argument("--kind", choices=KINDS, help="default: daily for the first backup of a UTC day, else hourly")
    backup.add_argument("--page-size", type=int, default=500, help="chunks per exported page (one part each)")
    backup.add_argument("--deadline", type=float, help="seconds after which to stop and save a resumable cursor")
    backup.set_defaults(func=cmd_backup)

    restore = subparsers.add_parser("restore", help="restore a complete backup into an empty store")
    add_verify_arguments(restore)
    restore.add_argument("--force", action="store_true", help="replace collections that already hold data")
    restore.set_defaults(func=cmd_restore)

    verify = subparsers.add_parser("verify", help="check a backup's manifest and every part's checksum")
    add_verify_arguments(verify)
    verify.set_defaults(func=cmd_verify)
