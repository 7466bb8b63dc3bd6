"""SnapStart restore path, measured locally: after-restore hooks + the first query, per restore.

What a restored query environment does before it answers (knowledgebeast.aws.snapstart): run the
hooks the handler registered (fresh Redis and Chroma clients, secrets re-read, random reseeded)
and answer its first event. Nothing can take a real Lambda snapshot here, so the handler is
initialised once (the snapshot), the hooks are run as the runtime would run them, and the first
query afterwards is timed; repeated ``--restores`` times against `chroma run` and a real Redis
(valkey) on loopback. Each first query is a different SciFact claim (uncached: the hooks keep the
shared cache, which a restored environment would find warm too, so a new question is the honest
case).

    python -m bench.snapstart_restore --restores 20 --json build/bench/results/restore.json

The last line printed is ``restore_p50_ms=<hooks + first query, median>``.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench.common import BENCH_DIR, REPO_ROOT, SCIFACT_DIR, load_corpus, load_queries, machine_info, write_json
from bench.lambda_events import FakeLambdaContext, query_event


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--docs", type=int, default=200)
    parser.add_argument("--restores", type=int, default=20)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args(argv)

    sys.path.insert(0, str(REPO_ROOT))
    from snapshot_restore_py import get_after_restore

    from tests.utils.servers import start_chroma, start_redis

    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="restore-", dir=BENCH_DIR))
    chroma, redis = start_chroma(workdir / "chroma"), start_redis()
    try:
        os.environ.update(
            APP_ENV="test",
            CHROMA_HOST="127.0.0.1",
            CHROMA_PORT=str(chroma.port),
            REDIS_HOST="127.0.0.1",
            REDIS_PORT=str(redis.port),
            RATE_LIMIT_PER_MINUTE="0",
            DATA_DIR=str(workdir / "data"),
        )
        from bench.lambda_events import QUERY_HANDLER, load_module
        from knowledgebeast.ingest import IngestItem

        registered = len(get_after_restore())
        init_started = time.perf_counter()
        module = load_module(QUERY_HANDLER, "kb_query_handler_restore")
        init_seconds = time.perf_counter() - init_started
        hooks = list(get_after_restore()[registered:])
        docs = load_corpus(SCIFACT_DIR / "corpus.jsonl.gz")[: args.docs]
        ingest = module.app.state.services.ingest_service
        for first in range(0, len(docs), 64):
            items = [
                IngestItem((d.text or d.title).encode(), d.doc_id, f"{d.doc_id}.txt", title=d.title or None)
                for d in docs[first : first + 64]
            ]
            ingest.ingest_many(items, collection="beir")
        texts = list(dict.fromkeys(load_queries(SCIFACT_DIR / "queries.jsonl").values()))
        hook_ms, query_ms, total_ms = [], [], []
        for number in range(args.restores):
            started = time.perf_counter()
            for function, hook_args, hook_kwargs in hooks:
                function(*hook_args, **hook_kwargs)
            hooked = time.perf_counter()
            with contextlib.redirect_stdout(io.StringIO()):
                response = module.handler(query_event(texts[number], collection="beir"), FakeLambdaContext())
            answered = time.perf_counter()
            if response["statusCode"] != 200 or json.loads(response["body"])["cached"]:
                raise RuntimeError(f"first query after restore: {response['statusCode']} {response['body'][:200]}")
            hook_ms.append((hooked - started) * 1000)
            query_ms.append((answered - hooked) * 1000)
            total_ms.append((answered - started) * 1000)
        result = {
            "restores": args.restores,
            "hooks": len(hooks),
            "init_seconds": round(init_seconds, 2),
            "hooks_p50_ms": round(statistics.median(hook_ms), 1),
            "first_query_p50_ms": round(statistics.median(query_ms), 1),
            "restore_p50_ms": round(statistics.median(total_ms), 1),
            "restore_max_ms": round(max(total_ms), 1),
            "load_average": os.getloadavg(),
            "machine": machine_info(),
        }
        print(json.dumps(result, indent=2))
        write_json(args.json, result)
        print(f"restore_p50_ms={result['restore_p50_ms']:.1f}")
    finally:
        chroma.stop()
        redis.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
