"""Structured JSON logs for local mode and containers (Lambda uses Powertools Logger instead).

One JSON object per line; ``extra={...}`` fields become keys. Keys that could carry secrets or
document text are never logged by the package, and values named like secrets are redacted here
as a last line of defence.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

_STANDARD = set(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime"}
_SECRET_WORDS = ("password", "secret", "token", "api_key", "authorization")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "timestamp": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            payload[key] = "[redacted]" if any(word in key.lower() for word in _SECRET_WORDS) else value
        if record.exc_info:
            payload["exception"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


def configure_logging(level: str = "INFO", *, stream: Any = None) -> None:
    """Route every ``knowledgebeast`` logger to one JSON handler at ``level`` (idempotent)."""
    root = logging.getLogger("knowledgebeast")
    root.setLevel(level.upper())
    for handler in list(root.handlers):
        if getattr(handler, "_knowledgebeast", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler._knowledgebeast = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.propagate = False
