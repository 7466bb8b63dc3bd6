"""Real-shaped Lambda inputs and the query handler, for the latency and cold-start benchmarks.

Events follow the documented API Gateway HTTP API payload format 2.0, so Mangum takes the same
code path as in AWS. The handler is ``functions/query/handler.py``'s ``handler`` when that file
exists; until then the equivalent ``Mangum(create_app(services=...), lifespan="off")``.
"""

from __future__ import annotations

import importlib.util
import json
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.common import REPO_ROOT

QUERY_HANDLER = REPO_ROOT / "functions" / "query" / "handler.py"
INGEST_HANDLER = REPO_ROOT / "functions" / "ingest" / "handler.py"


@dataclass
class FakeLambdaContext:
    """The attributes Powertools and Mangum read from the real ``LambdaContext``."""

    function_name: str = "knowledgebeast-query"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1769
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:knowledgebeast-query"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/knowledgebeast-query"
    log_stream_name: str = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def http_api_event(method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    """An API Gateway HTTP API (v2) event as AWS sends it."""
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": "abc123.execute-api.us-east-1.amazonaws.com",
            "user-agent": "knowledgebeast-bench",
            "x-forwarded-for": "203.0.113.7",
            "x-forwarded-proto": "https",
            "x-forwarded-port": "443",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "knowledgebeast-bench",
            },
            "requestId": str(uuid.uuid4()),
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def query_event(query: str, *, mode: str = "hybrid", top_k: int = 10, collection: str = "beir") -> dict[str, Any]:
    return http_api_event(
        "POST", "/api/v1/query", {"query": query, "top_k": top_k, "mode": mode, "collection": collection}
    )


def load_module(path: Path, name: str) -> Any:
    """Import a handler file by path (``functions/`` is not a package)."""
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def query_handler(services: Any | None = None) -> tuple[Any, str]:
    """``(handler, where it came from)``. The real handler reads its settings from the environment
    (set CHROMA_HOST etc. before calling); the fallback uses ``services``."""
    if QUERY_HANDLER.exists():
        return load_module(QUERY_HANDLER, "kb_query_handler").handler, str(QUERY_HANDLER.relative_to(REPO_ROOT))
    from mangum import Mangum

    from knowledgebeast.api.app import create_app

    if services is None:
        from knowledgebeast.config import get_settings
        from knowledgebeast.factory import build_services

        services = build_services(get_settings())
    return Mangum(create_app(services=services), lifespan="off"), "Mangum(create_app(services), lifespan='off')"


def sqs_s3_test_event() -> dict[str, Any]:
    """An SQS batch carrying the ``s3:TestEvent`` S3 sends when a notification is configured: the
    ingest handler answers it without touching S3, so a cold start probe needs no bucket."""
    body = {
        "Service": "Amazon S3",
        "Event": "s3:TestEvent",
        "Time": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "Bucket": "knowledgebeast-docs",
        "RequestId": uuid.uuid4().hex[:16].upper(),
        "HostId": "bench",
    }
    now_ms = str(int(time.time() * 1000))
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "bench-receipt",
                "body": json.dumps(body),
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": now_ms,
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": now_ms,
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:knowledgebeast-ingest",
                "awsRegion": "us-east-1",
            }
        ]
    }
