"""ASGI middleware: request id, body-size limit, one access-log line and HTTP metrics per request.

Pure ASGI (not BaseHTTPMiddleware) to keep the per-request overhead in the tens of microseconds.
Routes are labelled by their template (``/api/v1/documents/{document_id}``), never the raw path.

It also keeps two promises no route can keep on its own: every response of a rate-limited route
carries ``X-RateLimit-*`` (including errors raised after the limiter ran), and errors produced by
framework middleware as plain text (TrustedHost's "Invalid host header", CORS's "Disallowed CORS
origin") are rewritten into the one JSON error shape.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from knowledgebeast.api.errors import code_for_status
from knowledgebeast.observability import metrics

logger = logging.getLogger("knowledgebeast.access")
_REQUEST_ID_OK = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:")
#: Only these routes take documents; every other body (a query, a filter) is small by nature, so a
#: 50 MB JSON query is refused before it is parsed instead of costing a second of CPU.
LARGE_BODY_PREFIX = "/api/v1/documents"
SMALL_BODY_BYTES = 1024 * 1024


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"


def _incoming_request_id(scope: Scope) -> str | None:
    for name, value in scope.get("headers", []):
        if name == b"x-request-id":
            text = value.decode("latin-1")[:128]
            if text and all(ch in _REQUEST_ID_OK for ch in text):
                return text
    aws = scope.get("aws.context")
    return getattr(aws, "aws_request_id", None) if aws is not None else None


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_small_body_bytes: int = SMALL_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_small_body_bytes = min(max_small_body_bytes, max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _incoming_request_id(scope) or uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        started = time.perf_counter()
        status_holder: dict[str, Any] = {"status": 500}
        path = str(scope.get("path", ""))
        limit = self.max_body_bytes if path.startswith(LARGE_BODY_PREFIX) else self.max_small_body_bytes

        declared = _content_length(scope)
        if declared is not None and declared > limit:
            await _reject_too_large(scope, send, request_id, limit)
            self._record(scope, 413, started, request_id)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge(limit)
            return message

        plain_error: dict[str, Any] = {}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                headers.append((b"x-request-id", request_id.encode()))
                decision = scope.get("state", {}).get("rate_limit")
                if decision is not None:
                    for name, value in decision.headers().items():
                        if name.lower().encode() not in present:
                            headers.append((name.lower().encode(), value.encode()))
                message["headers"] = headers
                if message["status"] >= 400 and _is_plain_text(headers):
                    plain_error.update(start=message, body=b"")  # rewritten once the body is complete
                    return
            elif message["type"] == "http.response.body" and plain_error:
                plain_error["body"] += message.get("body", b"")
                if message.get("more_body", False):
                    return
                await _send_error_shape(send, plain_error["start"], plain_error["body"], request_id)
                return
            await send(message)

        try:
            await self.app(scope, limited_receive, send_with_id)
        except _BodyTooLarge:
            if status_holder.get("started"):
                raise
            await _reject_too_large(scope, send, request_id, limit)
            status_holder["status"] = 413
        finally:
            self._record(scope, int(status_holder["status"]), started, request_id)

    @staticmethod
    def _record(scope: Scope, status: int, started: float, request_id: str) -> None:
        seconds = time.perf_counter() - started
        route = _route_template(scope)
        metrics.observe_http(scope.get("method", ""), route, status, seconds)
        state = scope.get("state", {})
        logger.info(
            "request",
            extra={
                "request_id": request_id,
                "method": scope.get("method"),
                "route": route,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
                "cache_hit": state.get("cache_hit"),
            },
        )


class _BodyTooLarge(StarletteHTTPException):
    """Raised from ``receive`` once a streamed body passes the limit.

    An HTTPException on purpose: FastAPI turns any other exception raised while it reads a body
    into "400 There was an error parsing the body", which hid the 413 for every chunked upload.
    Routes render it through the normal handler; the middleware catches it if nothing else did.
    """

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body exceeds {limit} bytes")
        self.details = {"max_bytes": limit}


def _is_plain_text(headers: list[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name.lower() == b"content-type":
            return value.lower().startswith(b"text/plain")
    return False


async def _send_error_shape(send: Send, start: Message, text: bytes, request_id: str) -> None:
    """Re-send a framework's plain-text error as the JSON error shape, keeping status and headers."""
    status = int(start["status"])
    message = text.decode("utf-8", "replace").strip()[:200] or code_for_status(status).replace("_", " ")
    body = json.dumps(
        {"error": {"code": code_for_status(status), "message": message, "request_id": request_id, "details": {}}}
    ).encode()
    replaced = (b"content-type", b"content-length")
    headers = [(name, value) for name, value in start.get("headers", []) if name.lower() not in replaced]
    headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None


async def _reject_too_large(scope: Scope, send: Send, request_id: str, limit: int) -> None:
    body = json.dumps(
        {
            "error": {
                "code": "payload_too_large",
                "message": f"request body exceeds {limit} bytes",
                "request_id": request_id,
                "details": {"max_bytes": limit},
            }
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"x-request-id", request_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
