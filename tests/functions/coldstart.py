"""Measure the query function's cold start: process start -> first answered HTTP API event.

Not a test (it takes a minute and depends on machine load): ``python -m tests.functions.coldstart``.
Starts a Chroma server with one indexed document, then runs fresh processes that import
functions/query/handler.py and answer one HTTP API v2 query, in up to three setups:

- ``venv``: the development virtualenv (Python 3.11, everything installed, bytecode cached);
- ``layers``: Python 3.12 with only the built layers on ``sys.path`` and no bytecode cache, which
  is what Lambda does with the layers as the CDK stages them (``*.pyc`` excluded, /opt read-only);
- ``layers+pyc``: the same with bytecode compiled ahead (shows what shipping ``.pyc`` would save).

Prints the median of N runs of wall time, CPU time and peak RSS (``ru_maxrss``) per setup.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build" / "layers"

CHILD = r"""
import json, os, resource, sys, time
sys.path[:0] = json.loads(os.environ["KB_SYS_PATH"])
import importlib.util
spec = importlib.util.spec_from_file_location("handler", os.environ["KB_HANDLER"])
handler = importlib.util.module_from_spec(spec)
spec.loader.exec_module(handler)
imported = time.time()
class Context:
    function_name = "coldstart"; memory_limit_in_mb = 2048; aws_request_id = "coldstart"
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:coldstart"
    def get_remaining_time_in_millis(self): return 30000
event = json.loads(os.environ["KB_EVENT"])
response = handler.handler(event, Context())
answered = time.time()
body = json.loads(response["body"])
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"imported": imported, "answered": answered, "status": response["statusCode"],
                  "source": body["results"][0]["citation"]["source"], "cpu_s": usage.ru_utime + usage.ru_stime,
                  "maxrss_mb": usage.ru_maxrss / 1024}))
"""


def run_once(python: list[str], sys_path: list[str], env: dict[str, str], event: dict[str, Any]) -> dict[str, Any]:
    child_env = {
        **env,
        "KB_SYS_PATH": json.dumps(sys_path),
        "KB_HANDLER": str(REPO / "functions" / "query" / "handler.py"),
        "KB_EVENT": json.dumps(event),
    }
    started = time.time()
    result = subprocess.run([*python, "-c", CHILD], env=child_env, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(result.stderr[-3000:])
    out: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    out["import_s"] = out["imported"] - started
    out["first_answer_s"] = out["answered"] - started
    return out


def _find_python312() -> str:
    """The interpreter layers/build.py checks with (a pyenv shim alone may not run)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("kb_layers_build", REPO / "layers" / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    found = build.find_python312()
    if found is None:
        raise SystemExit("no Python 3.12 interpreter: run with --setups venv")
    return str(found)


def main() -> int:
    sys.path.insert(0, str(REPO))
    from knowledgebeast.config import Settings
    from knowledgebeast.factory import Services
    from tests.functions import events
    from tests.utils.servers import start_chroma

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--setups", default="venv,layers,layers+pyc")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="kb-coldstart-"))
    server = start_chroma(work / "chroma")
    try:
        model_dir = BUILD / "models" / "models" / "all-MiniLM-L6-v2"
        if not model_dir.is_dir():
            model_dir = REPO / "build" / "models" / "all-MiniLM-L6-v2"
        settings = Settings(app_env="test", chroma_host="127.0.0.1", chroma_port=server.port, data_dir=work / "d")
        Services(settings).ingest_service.ingest_bytes(
            b"# Tides\n\nThe moon's gravity raises two tidal bulges, so most coasts see two high tides a day.",
            collection="coldstart",
            source="s3://kb-documents/coldstart/tides.md",
        )
        event = events.http_event(
            "http_api_v2.json", {"query": "why two high tides a day?", "collection": "coldstart", "top_k": 3}
        )
        base_env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(work),
            "APP_ENV": "test",
            "CHROMA_HOST": "127.0.0.1",
            "CHROMA_PORT": str(server.port),
            "EMBEDDING_MODEL_DIR": str(model_dir),
            "DATA_DIR": str(work / "d"),
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        layer_path = [str(BUILD / "deps" / "python"), str(REPO / "layers" / "knowledgebeast" / "python")]
        python312 = _find_python312()
        setups: dict[str, tuple[list[str], list[str]]] = {
            "venv": ([sys.executable, "-B"], []),
            "layers": ([python312, "-S", "-E", "-B"], layer_path),
        }
        if "layers+pyc" in args.setups:
            compiled = work / "compiled"
            for source, name in ((BUILD / "deps" / "python", "deps"), (REPO / "layers" / "knowledgebeast", "pkg")):
                shutil.copytree(source, compiled / name, ignore=shutil.ignore_patterns("__pycache__"))
            compile_all = [python312, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
            subprocess.run([*compile_all, str(compiled)], check=False)
            compiled_path = [str(compiled / "deps"), str(compiled / "pkg" / "python")]
            setups["layers+pyc"] = ([python312, "-S", "-E", "-B"], compiled_path)
        print(f"load average: {os.getloadavg()}")
        for name in args.setups.split(","):
            python, sys_path = setups[name]
            runs = [run_once(python, sys_path, base_env, event) for _ in range(args.runs)]
            assert all(r["status"] == 200 and r["source"].endswith("tides.md") for r in runs)
            summary = {
                key: round(statistics.median(r[key] for r in runs), 2)
                for key in ("import_s", "first_answer_s", "cpu_s", "maxrss_mb")
            }
            print(f"{name:<11} median of {args.runs}: {json.dumps(summary)}")
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
