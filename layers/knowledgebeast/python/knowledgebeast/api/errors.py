"""One error shape for every failure, and the handlers that produce it.

``{"error": {"code": str, "message": str, "request_id": str, "details": {...}}}``. No stack trace
or exception text of a third-party library ever reaches a client; unexpected errors are logged
with the request id and answered with a generic 500.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from knowledgebeast.errors import KnowledgeBeastError, RateLimitedError, ServiceUnavailableError

logger = logging.getLogger(__name__)

_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "service_unavailable",
    504: "timeout",
}


class ErrorBody(BaseModel):
    code: str = Field(..., description="Stable machine-readable code, e.g. `rate_limited`.", examples=["rate_limited"])
    message: str = Field(
        ...,
        description="Human-readable explanation; never contains secrets or stack traces.",
        examples=["rate limit of 100 requests per minute exceeded, retry in 12 s"],
    )
    request_id: str = Field(
        ...,
        description="Also in the X-Request-ID header; quote it when reporting a problem.",
        examples=["5f0c2a9e8b7d4c3a9e1f2b3c4d5e6f70"],
    )
    details: dict[str, Any] = Field(
        default_factory=dict,
        description="Machine-readable specifics (the field, the limit, validation errors); may be empty.",
        examples=[{"limit": 100, "window_seconds": 60}],
    )


class ErrorResponse(BaseModel):
    """The one error shape, declared in OpenAPI so clients (and schema checks) can rely on it."""

    error: ErrorBody = Field(..., description="What went wrong.")


_ERROR_DESCRIPTIONS = {
    400: "Malformed JSON, invalid filter or a request that cannot be served as asked",
    401: "Missing or invalid credentials",
    403: "The credential lacks the scope or the collection",
    404: "Not found",
    405: "Method not allowed",
    413: "Request body or upload too large",
    415: "Unsupported media type or file format",
    422: "Validation error",
    429: "Rate limit exceeded (see Retry-After)",
    500: "Internal error",
    503: "A dependency is unavailable or all query slots are busy (see Retry-After)",
    504: "The query did not finish within QUERY_TIMEOUT",
}
#: Statuses any authenticated /api/v1 route can answer with, whatever it does.
COMMON_ERRORS = (400, 401, 403, 413, 422, 429, 500, 503)


def error_responses(*extra: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses=`` for a route: the common error statuses plus ``extra``, all ErrorResponse."""
    responses: dict[int | str, dict[str, Any]] = {}
    for status in sorted({*COMMON_ERRORS, *extra}):
        responses[status] = {"model": ErrorResponse, "description": _ERROR_DESCRIPTIONS[status]}
        if status in (429, 503):
            responses[status]["headers"] = {
                "Retry-After": {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
            }
    return responses


def code_for_status(status: int) -> str:
    """The error ``code`` of a bare HTTP status (errors raised by the framework, not by KnowledgeBeast)."""
    return _HTTP_CODES.get(status, "error")


def request_id_of(request: Request) -> str:
    return str(getattr(request.state, "request_id", "") or request.headers.get("x-request-id", ""))


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    details: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = {"error": {"code": code, "message": message, "request_id": request_id_of(request), "details": details or {}}}
    return JSONResponse(body, status_code=status, headers=headers)


def _safe_validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Field locations and messages only: never echo the (possibly huge or secret) input back."""
    return [
        {
            "loc": [str(part) for part in error.get("loc", ())],
            "msg": str(error.get("msg", "")),
            "type": str(error.get("type", "")),
        }
        for error in exc.errors()[:20]
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(KnowledgeBeastError)
    async def _known(request: Request, exc: KnowledgeBeastError) -> JSONResponse:
        headers: dict[str, str] = {}
        if isinstance(exc, RateLimitedError | ServiceUnavailableError):
            headers["Retry-After"] = str(exc.retry_after)
        if exc.status_code >= 500:
            logger.warning("request failed", extra={"code": exc.code, "status": exc.status_code})
        return error_response(request, exc.status_code, exc.code, exc.message, exc.details, headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _safe_validation_errors(exc)
        if any(e["type"] == "json_invalid" for e in errors):
            return error_response(request, 400, "malformed_json", "request body is not valid JSON", {"errors": errors})
        return error_response(request, 422, "validation_error", "request is invalid", {"errors": errors})

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = code_for_status(exc.status_code)
        message = exc.detail if isinstance(exc.detail, str) else code.replace("_", " ")
        details = getattr(exc, "details", None)
        return error_response(request, exc.status_code, code, message, details, headers=dict(exc.headers or {}))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        logger.exception("unhandled error", extra={"error_type": type(exc).__name__})
        return error_response(request, 500, "internal_error", "internal server error")
