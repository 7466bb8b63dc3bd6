"""``knowledgebeast`` command line: ingest, query, serve, delete, collections, backup tools.

Runs on the same services as the API and the Lambdas (local mode: embedded Chroma and an
in-process cache unless CHROMA_HOST / REDIS_HOST are set).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

from knowledgebeast.cli_errors import (
    GuidedArgumentParser,
    NothingIngestedError,
    bounded_int,
    collection_name,
    finite_float,
    report,
    split_debug,
)
from knowledgebeast.config import Settings, get_settings
from knowledgebeast.errors import ConfigurationError, KnowledgeBeastError
from knowledgebeast.factory import Services, build_services
from knowledgebeast.parsing import SUPPORTED_EXTENSIONS


def _files(paths: Sequence[str]) -> Iterator[Path]:
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        elif path.is_file():
            yield path
        else:
            raise KnowledgeBeastError(f"no such file or directory: {raw}")


def cmd_ingest(args: argparse.Namespace, services: Services) -> int:
    from tqdm import tqdm

    from knowledgebeast.ingest import IngestService

    service: IngestService = services.ingest_service
    files = list(_files(args.paths))
    started = time.perf_counter()
    summary = {"files": len(files), "indexed": 0, "replaced": 0, "unchanged": 0, "failed": 0, "chunks": 0}
    failures: list[dict[str, str]] = []
    for path in tqdm(files, desc="ingest", unit="file", disable=args.quiet or not sys.stderr.isatty()):
        if path.suffix.lower() not in SUPPORTED_EXTENSIONS:
            summary["failed"] += 1
            failures.append({"file": str(path), "reason": f"unsupported file type {path.suffix!r}"})
            continue
        try:
            result = service.ingest_bytes(
                path.read_bytes(),
                collection=args.collection,
                source=str(path.resolve()),
                filename=path.name,
                strategy=args.strategy,
            )
        except KnowledgeBeastError as exc:
            summary["failed"] += 1
            failures.append({"file": str(path), "reason": exc.message})
            continue
        summary[result.outcome] = summary.get(result.outcome, 0) + 1
        summary["chunks"] += result.chunks if result.outcome != "unchanged" else 0
    summary["seconds"] = round(time.perf_counter() - started, 2)  # type: ignore[assignment]
    skipped = summary["unchanged"]
    print(
        f"files={summary['files']} chunks={summary['chunks']} indexed={summary['indexed']} "
        f"replaced={summary['replaced']} skipped={skipped} failed={summary['failed']} seconds={summary['seconds']}"
    )
    for failure in failures:
        print(f"  failed: {failure['file']}: {failure['reason']}", file=sys.stderr)
    return 1 if failures and len(failures) == len(files) else 0


def cmd_query(args: argparse.Namespace, services: Services) -> int:
    from knowledgebeast.schemas import QueryRequest

    request = QueryRequest(
        query=args.text,
        top_k=args.top_k,
        collection=args.collection,
        mode=args.mode,
        rerank=args.rerank,
        min_score=args.min_score,
    )
    response = services.query_service.query(request)
    if not response.results and services.store.collection_info(args.collection).count == 0:
        raise NothingIngestedError(args.collection)
    if args.json:
        print(response.model_dump_json(indent=2))
        return 0
    print(
        f"{len(response.results)} results in {response.took_ms:.1f} ms ({response.mode}"
        f"{', cached' if response.cached else ''})"
    )
    for rank, result in enumerate(response.results, start=1):
        c = result.citation
        where = f"p.{c.page}" if c.page else " > ".join(c.heading_path) or f"chunk {c.chunk_index}"
        snippet = " ".join(result.text.split())[:220]
        print(f"\n{rank}. {c.title}  [{where}]  score={result.score:.4f}\n   {Path(c.source).name}: {snippet}")
    return 0


def cmd_serve(args: argparse.Namespace, services: Services) -> int:
    import uvicorn

    from knowledgebeast.api.app import create_app
    from knowledgebeast.observability import multiprocess

    settings = services.settings
    if settings.workers > 1 and settings.embedded_store:
        raise ConfigurationError(
            "WORKERS > 1 needs a Chroma server (CHROMA_HOST): the embedded store allows one process"
        )
    if settings.workers > 1 and settings.prometheus_enabled:
        multiprocess.prepare_directory(settings.prometheus_multiproc_dir)
    if settings.prometheus_enabled and settings.prometheus_port:
        from prometheus_client import start_http_server

        start_http_server(settings.prometheus_port, addr=args.host, registry=multiprocess.registry())
    if settings.workers > 1:
        from knowledgebeast.api.server import serve_workers

        # one SO_REUSEPORT socket per worker: keep-alive clients spread over every process
        return serve_workers(args.host, args.port, settings.workers)
    uvicorn.run(create_app(services=services), host=args.host, port=args.port, log_level="warning")
    return 0


def cmd_collections(args: argparse.Namespace, services: Services) -> int:
    from knowledgebeast.identity import is_user_collection

    for info in services.store.list_collections():
        if is_user_collection(info.name):
            print(f"{info.name}\t{info.count} chunks")
    return 0


def cmd_delete(args: argparse.Namespace, services: Services) -> int:
    service = services.ingest_service
    if args.document_id:
        result = service.delete_document(args.collection, args.document_id)
    else:
        result = service.delete_source(args.collection, str(Path(args.source).resolve()))
    print(f"{result.outcome}: {result.document_id} ({result.chunks} chunks)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    settings = get_settings()
    parser = GuidedArgumentParser(prog="knowledgebeast", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="show tracebacks (accepted anywhere on the line)")
    sub = parser.add_subparsers(dest="command", required=True)

    ingest = sub.add_parser("ingest", help="index files or folders")
    ingest.add_argument("paths", nargs="+")
    ingest.add_argument("--collection", default="default", type=collection_name)
    ingest.add_argument("--strategy", choices=["semantic", "recursive", "fixed"], default=settings.chunk_strategy)
    ingest.add_argument("--quiet", action="store_true")
    ingest.set_defaults(func=cmd_ingest)

    query = sub.add_parser("query", help="ask a question")
    query.add_argument("text")
    query.add_argument("--top-k", type=bounded_int(1, settings.max_top_k), default=5)
    query.add_argument("--collection", default="default", type=collection_name)
    query.add_argument("--mode", choices=["hybrid", "dense", "lexical"], default="hybrid")
    query.add_argument("--rerank", action="store_true")
    query.add_argument("--min-score", type=finite_float, help="drop results scoring below this (scale per mode)")
    query.add_argument("--json", action="store_true")
    query.set_defaults(func=cmd_query)

    serve = sub.add_parser("serve", help="serve the HTTP API")
    serve.add_argument("--host", default=settings.host)
    serve.add_argument("--port", type=int, default=settings.port)
    serve.set_defaults(func=cmd_serve)

    collections = sub.add_parser("collections", help="list collections")
    collections.set_defaults(func=cmd_collections)

    delete = sub.add_parser("delete", help="delete a document by id or source path")
    delete.add_argument("--collection", default="default", type=collection_name)
    target = delete.add_mutually_exclusive_group(required=True)
    target.add_argument("--document-id")
    target.add_argument("--source")
    delete.set_defaults(func=cmd_delete)

    from knowledgebeast.worker.cli import add_worker_commands

    add_worker_commands(sub)
    try:
        from knowledgebeast.backup.cli import add_backup_commands
    except ImportError:
        pass
    else:
        add_backup_commands(sub)
    from knowledgebeast.tools.model_export import add_models_commands

    add_models_commands(sub)

    from knowledgebeast.sync.cli import add_sync_commands

    add_sync_commands(sub)
    return parser


def run(argv: Sequence[str], settings: Settings) -> int:
    from knowledgebeast.observability.logging import configure_logging

    args = build_parser().parse_args(argv)
    configure_logging("WARNING" if args.command in ("query", "ingest") else settings.log_level)
    services = build_services(settings)
    return int(args.func(args, services))


def main(argv: Sequence[str] | None = None) -> int:
    """Every failure ends as one ``error:`` line (see cli_errors); ``--debug`` adds the traceback."""
    arguments, debug = split_debug(sys.argv[1:] if argv is None else argv)
    settings: Settings | None = None
    try:
        settings = get_settings()
        return run(arguments, settings)
    except (Exception, KeyboardInterrupt) as exc:
        return report(exc, debug=debug, settings=settings)


if __name__ == "__main__":
    raise SystemExit(main())
