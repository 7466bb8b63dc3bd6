"""The real CLI as a subprocess: every user mistake is one `error:` line saying what to do, exit code 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import MODEL_DIR
from tests.utils.servers import free_port

CLI = [sys.executable, "-m", "knowledgebeast.cli"]
SCRUBBED = ("CHROMA_HOST", "CHROMA_PORT", "REDIS_HOST", "API_KEY", "JWT_SECRET", "CONFIG_FILE", "EMBEDDING_MODEL_DIR")


def run_cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if k not in SCRUBBED and not k.startswith("CHUNK_")}
    environment.update({"APP_ENV": "test", "DATA_DIR": str(tmp_path / "data"), "EMBEDDING_MODEL_DIR": str(MODEL_DIR)})
    environment.update(env)
    return subprocess.run([*CLI, *args], env=environment, capture_output=True, text=True, timeout=300)


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    """Exit code 2, nothing on stdout, exactly one stderr line starting with `error:`, no traceback."""
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    assert done.stdout == ""
    return lines[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["query", "hello", "--top-k", "500"], "--top-k: must be from 1 to 100, got 500"),
        (["query", "hello", "--top-k", "0"], "--top-k: must be from 1 to 100, got 0"),
        (["query", "hello", "--top-k", "many"], "expected a whole number from 1 to 100"),
        (["query", "hello", "--collection", "a"], "invalid collection name 'a'"),
        (["query", "hello", "--collection", "bad..name"], "invalid collection name 'bad..name'"),
        (["ingest", "README.md", "--collection", "x"], "invalid collection name 'x'"),
        (["query", "hello", "--mode", "fuzzy"], "argument --mode: invalid choice: 'fuzzy'"),
        (["query", "hello", "--min-score", "nan"], "expected a finite number"),
        (["query"], "the following arguments are required: text"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
    ],
)
def test_bad_arguments(tmp_path: Path, args: list[str], expected: str) -> None:
    line = one_error_line(run_cli(tmp_path, *args))
    assert expected in line
    assert "--help" in line  # says where to look


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({"CHUNK_SIZE": "abc"}, "invalid setting: CHUNK_SIZE: Input should be a valid integer"),
        ({"CHUNK_OVERLAP": "600"}, "invalid setting: CHUNK_OVERLAP must be smaller than CHUNK_SIZE"),
        ({"APP_ENV": "prod"}, "invalid setting: APP_ENV: Input should be"),
        ({"CONFIG_FILE": "/nonexistent/app.yaml"}, "CONFIG_FILE '/nonexistent/app.yaml' does not exist"),
    ],
)
def test_invalid_settings(tmp_path: Path, env: dict[str, str], expected: str) -> None:
    line = one_error_line(run_cli(tmp_path, "query", "hello", **env))
    assert expected in line


def test_secret_values_are_never_echoed(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "query", "hello", REDIS_PORT="hunter2-secret")
    assert "REDIS_PORT" in one_error_line(done)
    assert "hunter2" not in done.stderr


def test_missing_model(tmp_path: Path) -> None:
    empty = tmp_path / "no-model"
    empty.mkdir()
    line = one_error_line(run_cli(tmp_path, "query", "hello", EMBEDDING_MODEL_DIR=str(empty)))
    assert f"no embedding model at {empty}" in line and "make models" in line


def test_nothing_ingested_yet_says_to_run_ingest(tmp_path: Path) -> None:
    line = one_error_line(run_cli(tmp_path, "query", "How do I deploy?"))
    assert "nothing has been ingested" in line
    assert "knowledgebeast ingest PATH --collection default" in line


def test_server_unreachable(tmp_path: Path) -> None:
    port = free_port()
    line = one_error_line(run_cli(tmp_path, "query", "hello", CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(port)))
    assert f"cannot reach the Chroma server at 127.0.0.1:{port}" in line
    assert "chroma run" in line and "unset CHROMA_HOST" in line


def test_debug_adds_the_traceback(tmp_path: Path) -> None:
    done = run_cli(tmp_path, "query", "--debug", "hello")
    assert done.returncode == 2
    assert "Traceback (most recent call last)" in done.stderr
    assert "CollectionNotFoundError" in done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("error: collection 'default' does not exist")


def _query_json(tmp_path: Path, *args: str) -> dict[str, Any]:
    done = run_cli(tmp_path, "query", "how do I deploy to AWS", "--collection", "cli-docs", "--json", *args)
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_min_score_then_empty_collection(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "deploy.md").write_text("# Deploy\n\nRun cdk deploy to put KnowledgeBeast on AWS in one command.\n")
    (docs / "cache.md").write_text("# Cache\n\nAnswers are cached in Redis for an hour.\n")
    ingested = run_cli(tmp_path, "ingest", str(docs), "--collection", "cli-docs", "--quiet")
    assert ingested.returncode == 0, ingested.stderr
    scores = [r["score"] for r in _query_json(tmp_path, "--mode", "dense")["results"]]
    assert len(scores) == 2 and scores[0] > scores[1]
    kept = _query_json(tmp_path, "--mode", "dense", "--min-score", str((scores[0] + scores[1]) / 2))["results"]
    assert len(kept) == 1 and kept[0]["citation"]["title"] == "Deploy"
    line = one_error_line(run_cli(tmp_path, "query", "x", "--collection", "cli-docs", "--min-score", "3"))
    assert "min_score 3.0 is outside the hybrid score range [0.0, 2.0]" in line

    for name in ("deploy.md", "cache.md"):
        deleted = run_cli(tmp_path, "delete", "--source", str(docs / name), "--collection", "cli-docs")
        assert deleted.returncode == 0 and deleted.stdout.startswith("deleted"), deleted.stderr
    line = one_error_line(run_cli(tmp_path, "query", "how do I deploy", "--collection", "cli-docs"))
    assert "collection 'cli-docs' is empty: run `knowledgebeast ingest PATH --collection cli-docs` first" in line
