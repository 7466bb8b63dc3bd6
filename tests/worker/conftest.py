"""Real servers for the SQS worker: ``moto_server`` (S3 + SQS over HTTP) and a Chroma server of
its own (tests pause it with SIGSTOP to hold an ingest in flight, so it is not the shared one)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.utils.servers import ServerProcess, free_port, start_chroma, wait_for_port


def start_moto_server() -> ServerProcess:
    port = free_port()
    exe = Path(sys.executable).with_name("moto_server")
    args = [str(exe) if exe.exists() else "moto_server", "-H", "127.0.0.1", "-p", str(port)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, process=process, timeout=60)
    return ServerProcess(port, process, args)


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    server = start_moto_server()
    yield f"http://127.0.0.1:{server.port}"
    server.stop()


@pytest.fixture(scope="module")
def worker_chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = start_chroma(tmp_path_factory.mktemp("worker-chroma"))
    yield server
    server.stop()


@dataclass
class Aws:
    """Clients of the moto server plus one bucket and one queue (with a DLQ) per test."""

    endpoint: str
    s3: Any
    sqs: Any
    bucket: str
    queue_url: str
    dlq_url: str

    def put(self, key: str, body: bytes | str) -> None:
        data = body.encode() if isinstance(body, str) else body
        self.s3.put_object(Bucket=self.bucket, Key=key, Body=data)

    def send(self, body: str) -> str:
        return str(self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=body)["MessageId"])

    def counts(self, queue_url: str | None = None) -> tuple[int, int]:
        """(visible, in flight) messages of the queue (default: the main queue)."""
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=queue_url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])

    def receive(self, queue_url: str | None = None, *, wait: int = 1) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=queue_url or self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
        )
        return list(response.get("Messages") or [])


@pytest.fixture
def aws(moto_endpoint: str) -> Aws:
    import json

    import boto3

    s3 = boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1")
    sqs = boto3.client("sqs", endpoint_url=moto_endpoint, region_name="us-east-1")
    suffix = uuid.uuid4().hex[:8]
    bucket = f"kb-docs-{suffix}"
    s3.create_bucket(Bucket=bucket)
    dlq_url = sqs.create_queue(QueueName=f"kb-dlq-{suffix}")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue_url = sqs.create_queue(
        QueueName=f"kb-ingest-{suffix}",
        Attributes={
            "VisibilityTimeout": "2",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"}),
        },
    )["QueueUrl"]
    return Aws(moto_endpoint, s3, sqs, bucket, queue_url, dlq_url)


@pytest.fixture
def prefix() -> str:
    """A fresh collection (the first key segment) per test."""
    return f"t-{uuid.uuid4().hex[:10]}"
