"""Child process of bench/cold_start.py: import the handler, answer one event, print a timestamp.

Kept tiny and import-free at module level so that what it measures is the handler's own start:
``python bench/cold_probe.py query`` is what a fresh Lambda container does before its first reply.
"""

from __future__ import annotations

import json
import os
import sys
import time

WALL_START = time.time()


def main() -> int:
    # --layers mode (bench/cold_start.py): run with `-S -E -B`, so only these paths exist, like /opt/python
    sys.path[:0] = json.loads(os.environ.get("KB_PROBE_SYS_PATH", "[]"))
    kind = sys.argv[1] if len(sys.argv) > 1 else "query"
    collection = sys.argv[2] if len(sys.argv) > 2 else "beir"
    sys.path.insert(0, sys.argv[3] if len(sys.argv) > 3 else ".")
    from bench.lambda_events import (
        INGEST_HANDLER,
        FakeLambdaContext,
        load_module,
        query_event,
        query_handler,
        sqs_s3_test_event,
    )

    imported = time.time()
    if kind == "query":
        handler, _ = query_handler()
        ready = time.time()
        response = handler(query_event("cold start probe question", collection=collection), FakeLambdaContext())
        status = int(response.get("statusCode", 0))
    else:
        module = load_module(INGEST_HANDLER, "kb_ingest_handler")
        ready = time.time()
        response = module.handler(sqs_s3_test_event(), FakeLambdaContext())
        failures = response.get("batchItemFailures") if isinstance(response, dict) else None
        status = 200 if not failures else 500
    answered = time.time()
    modules_out = os.environ.get("KB_PROBE_MODULES_OUT")
    if modules_out:  # which files a handler really loads: the layer build compiles exactly those
        files = sorted({str(m.__file__) for m in list(sys.modules.values()) if getattr(m, "__file__", None)})
        with open(modules_out, "w") as handle:
            handle.write("\n".join(files) + "\n")
    print(
        json.dumps(
            {
                "status": status,
                "interpreter_to_main": WALL_START,
                "imported": imported,
                "ready": ready,
                "answered": answered,
                "response": str(response)[:200] if status != 200 else "",
            }
        )
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
