"""One error hierarchy for the whole product.

Every failure a caller can cause or observe is a subclass of :class:`KnowledgeBeastError` with an
HTTP status and a stable ``code``; the API renders all of them with one exception handler, the CLI
prints ``message``, and the ingest Lambda turns them into failure records. Third-party exceptions
are wrapped with ``raise ... from exc`` so the cause stays in logs but never reaches a client.
"""

from __future__ import annotations

from typing import Any


class KnowledgeBeastError(Exception):
    """Base class: an error with an HTTP status, a stable machine code and optional details."""

    status_code: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}


class ValidationError(KnowledgeBeastError):
    """The request is well-formed JSON but a value is not acceptable."""

    status_code = 422
    code = "validation_error"


class BadRequestError(KnowledgeBeastError):
    """The request cannot be served as asked (e.g. rerank requested but no reranker configured)."""

    status_code = 400
    code = "bad_request"


class InvalidFilterError(BadRequestError):
    """A metadata filter uses an unknown operator, a wrong type or is nested too deep."""

    code = "invalid_filter"


class NotFoundError(KnowledgeBeastError):
    """A named resource (collection, document) does not exist."""

    status_code = 404
    code = "not_found"


class CollectionNotFoundError(NotFoundError):
    code = "collection_not_found"


class DocumentNotFoundError(NotFoundError):
    code = "document_not_found"


class PayloadTooLargeError(KnowledgeBeastError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaTypeError(KnowledgeBeastError):
    status_code = 415
    code = "unsupported_media_type"


class ParseError(KnowledgeBeastError):
    """A document cannot be turned into text: empty, corrupt, encrypted, binary or over a limit.

    Always names the file and the reason so an operator can act on a failure record alone.
    """

    status_code = 422
    code = "parse_error"

    def __init__(self, filename: str, reason: str, *, status_code: int | None = None) -> None:
        super().__init__(f"cannot parse {filename!r}: {reason}", details={"file": filename, "reason": reason})
        self.filename = filename
        self.reason = reason
        if status_code is not None:
            self.status_code = status_code


class UnsupportedFormatError(ParseError):
    """The file's type is not one KnowledgeBeast parses."""

    status_code = 415
    code = "unsupported_format"


class AuthenticationError(KnowledgeBeastError):
    status_code = 401
    code = "unauthorized"


class PermissionDeniedError(KnowledgeBeastError):
    status_code = 403
    code = "forbidden"


class RateLimitedError(KnowledgeBeastError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class ServiceUnavailableError(KnowledgeBeastError):
    """A dependency (vector store, cache when required) or capacity is unavailable: retry later."""

    status_code = 503
    code = "service_unavailable"

    def __init__(self, message: str, *, retry_after: int = 5, details: dict[str, Any] | None = None) -> None:
        super().__init__(message, details=details)
        self.retry_after = retry_after


class StoreUnavailableError(ServiceUnavailableError):
    code = "store_unavailable"


class QueryTimeoutError(KnowledgeBeastError):
    status_code = 504
    code = "query_timeout"


class ConfigurationError(KnowledgeBeastError):
    """Settings are inconsistent or unsafe (e.g. production without authentication)."""

    code = "configuration_error"


class BackupError(KnowledgeBeastError):
    """A backup is incomplete, corrupt or does not match its manifest."""

    code = "backup_error"
    status_code = 409
