"""The SQS ingest worker against moto's SQS/S3 (``moto_server``) and real Chroma + ONNX.

Each test settles messages through the ingest Lambda's own code path and checks the queue
afterwards: what was deleted, what stayed, what reached the DLQ, what came back after a stop.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.conftest import MODEL_DIR
from tests.functions import events
from tests.utils.servers import ServerProcess, free_port
from tests.worker.conftest import Aws

TEXT = "KnowledgeBeast workers read S3 notifications from SQS. The {word} document explains {word} in depth."


def _worker(aws: Aws, services: Any, **options: Any) -> Any:
    import boto3

    from knowledgebeast.aws.s3_events import S3Ingestor
    from knowledgebeast.worker.sqs import SqsIngestWorker, WorkerOptions

    s3 = boto3.client("s3", endpoint_url=aws.endpoint, region_name="us-east-1")
    ingestor = S3Ingestor(services, s3, max_object_bytes=services.settings.max_upload_bytes)
    opts = WorkerOptions(wait_seconds=1, **options)
    return SqsIngestWorker(aws.sqs, aws.queue_url, ingestor, options=opts)


def _sources(services: Any, collection: str, text: str) -> set[str]:
    from knowledgebeast.schemas import QueryRequest

    response = services.query_service.query(QueryRequest(query=text, collection=collection, top_k=10))
    return {result.citation.source for result in response.results}


def _until(condition: Any, what: str, timeout: float = 60.0) -> None:
    """Wait for ``condition()`` (a timeout guards against hangs; it is not a speed check)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@contextmanager
def _paused(server: ServerProcess) -> Iterator[None]:
    """Chroma frozen (SIGSTOP): any ingest that reaches the store waits here until resumed."""
    server.process.send_signal(signal.SIGSTOP)
    try:
        yield
    finally:
        server.process.send_signal(signal.SIGCONT)


def test_successes_are_deleted_and_indexed(aws: Aws, make_services: Any, prefix: str) -> None:
    services = make_services()
    for word in ("alpha", "bravo"):
        aws.put(f"{prefix}/{word}.txt", TEXT.format(word=word))
        aws.send(events.created(f"{prefix}/{word}.txt", f"00{word}", bucket=aws.bucket))
    aws.send(json.dumps({"Event": "s3:TestEvent", "Bucket": aws.bucket}))
    aws.put(f"{prefix}/broken.pdf", b"%PDF-1.7 not really")
    aws.send(events.created(f"{prefix}/broken.pdf", "0001", bucket=aws.bucket))  # permanent: dropped

    worker = _worker(aws, services)
    while worker.stats.received < 4:
        worker.poll_once()

    assert (worker.stats.deleted, worker.stats.failed) == (4, 0)
    assert aws.counts() == (0, 0)
    assert aws.receive(aws.dlq_url, wait=0) == []
    found = _sources(services, prefix, "alpha bravo document")
    assert found == {f"s3://{aws.bucket}/{prefix}/alpha.txt", f"s3://{aws.bucket}/{prefix}/bravo.txt"}


def test_transient_failure_stays_in_the_queue_and_redrives_to_the_dlq(
    aws: Aws, make_services: Any, prefix: str
) -> None:
    services = make_services(chroma_port=free_port())  # nothing listens there: the store is down
    aws.put(f"{prefix}/doc.txt", TEXT.format(word="charlie"))
    body = events.created(f"{prefix}/doc.txt", "0002", bucket=aws.bucket)
    aws.send(body)

    worker = _worker(aws, services)
    while worker.stats.received < 1:
        worker.poll_once()
    assert (worker.stats.deleted, worker.stats.failed) == (0, 1)
    assert aws.counts() == (0, 1)  # not deleted: invisible until the visibility timeout ends

    while worker.stats.received < 2:  # redelivered after the visibility timeout, fails again
        worker.poll_once()
    assert worker.stats.failed == 2

    # maxReceiveCount is 2: once visible again, the next receive moves it to the DLQ, unchanged
    dead: list[dict[str, Any]] = []

    def moved() -> bool:
        assert aws.receive() == []
        dead.extend(aws.receive(aws.dlq_url, wait=0))
        return bool(dead)

    _until(moved, "the message in the DLQ")
    assert [m["Body"] for m in dead] == [body]
    assert worker.stats.deleted == 0


def test_visibility_is_extended_while_a_file_is_processed(
    aws: Aws, make_services: Any, worker_chroma: ServerProcess, prefix: str
) -> None:
    services = make_services(chroma_port=worker_chroma.port)
    aws.put(f"{prefix}/long.txt", TEXT.format(word="delta"))
    aws.send(events.created(f"{prefix}/long.txt", "0003", bucket=aws.bucket))
    worker = _worker(aws, services, heartbeat_seconds=0.5)  # queue visibility timeout: 2 s

    with _paused(worker_chroma):
        thread = threading.Thread(target=worker.poll_once)
        thread.start()
        _until(lambda: worker.stats.received == 1, "the worker to take the message")
        # three visibility timeouts pass while the ingest is held; nobody else may see the message
        stolen = [m for _ in range(3) for m in aws.receive(wait=2)]
        assert stolen == []
        assert worker.stats.heartbeats >= 3
    thread.join(timeout=120)

    assert not thread.is_alive()
    assert (worker.stats.deleted, worker.stats.failed) == (1, 0)
    assert aws.counts() == (0, 0)
    assert _sources(services, prefix, "delta document") == {f"s3://{aws.bucket}/{prefix}/long.txt"}


def _read_lines(stream: Any, sink: queue.Queue[str]) -> None:
    for line in iter(stream.readline, ""):
        sink.put(line)


def test_sigterm_mid_batch_finishes_the_current_message_and_releases_the_rest(
    aws: Aws, make_services: Any, worker_chroma: ServerProcess, prefix: str, tmp_path: Any
) -> None:
    bodies = {}
    for word in ("echo", "foxtrot", "golf"):
        aws.put(f"{prefix}/{word}.txt", TEXT.format(word=word))
        bodies[word] = events.created(f"{prefix}/{word}.txt", f"00{word}", bucket=aws.bucket)
        aws.send(bodies[word])
    env = {
        **os.environ,
        "AWS_ENDPOINT_URL": aws.endpoint,
        "AWS_DEFAULT_REGION": "us-east-1",
        "APP_ENV": "test",
        "LOG_LEVEL": "INFO",
        "CHROMA_HOST": "127.0.0.1",
        "CHROMA_PORT": str(worker_chroma.port),
        "EMBEDDING_MODEL_DIR": str(MODEL_DIR),
        "DATA_DIR": str(tmp_path),
    }
    env.pop("REDIS_HOST", None)
    command = [sys.executable, "-m", "knowledgebeast.cli", "worker", "ingest", "--queue", aws.queue_url]
    command += ["--wait-seconds", "1", "--visibility-timeout", "60"]
    lines: queue.Queue[str] = queue.Queue()
    with _paused(worker_chroma):
        worker = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        threading.Thread(target=_read_lines, args=(worker.stderr, lines), daemon=True).start()
        started: list[dict[str, Any]] = []
        deadline = time.monotonic() + 120
        while not started:
            assert time.monotonic() < deadline and worker.poll() is None, "worker never started a message"
            try:
                line = lines.get(timeout=1)
            except queue.Empty:
                continue
            if line.startswith("{") and json.loads(line)["message"] == "message started":
                started.append(json.loads(line))
        assert aws.counts() == (0, 3)  # the whole batch is in hand, the first message in flight
        worker.send_signal(signal.SIGTERM)
    stdout, _ = worker.communicate(timeout=120)

    assert worker.returncode == 0
    assert "received=3 deleted=1 failed=0 released=2" in stdout
    # the two unstarted messages are visible again at once (the visibility timeout was 60 s)
    returned: list[dict[str, Any]] = []
    _until(lambda: returned.extend(aws.receive()) or len(returned) >= 2, "the released messages")
    services = make_services(chroma_port=worker_chroma.port)
    done = _sources(services, prefix, "echo foxtrot golf document")
    assert len(done) == 1
    finished = next(word for word in bodies if done == {f"s3://{aws.bucket}/{prefix}/{word}.txt"})
    assert sorted(m["Body"] for m in returned) == sorted(b for w, b in bodies.items() if w != finished)
    assert aws.counts() == (0, 2)
