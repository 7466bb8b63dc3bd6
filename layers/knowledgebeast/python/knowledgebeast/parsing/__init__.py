"""Turn uploaded bytes into text with structure (pages, heading paths) for chunking and citation.

One entry point per input kind: :func:`parse_document` for bytes already in memory (API uploads,
S3 objects) and :func:`parse_file` for paths, which checks the size on disk *before* reading so a
1 GB file is refused without ever being loaded. Every failure is a ``ParseError`` naming the file
and the reason (413 for size limits, 415 for unsupported types, 422 otherwise); a parser bug or a
third-party exception on hostile input never escapes as anything else.
"""

from __future__ import annotations

import os
import stat
from importlib import import_module
from pathlib import Path

from knowledgebeast.errors import KnowledgeBeastError, ParseError
from knowledgebeast.parsing.base import ParsedDocument, ParseLimits, Parser, Section, too_large
from knowledgebeast.parsing.detect import (
    DOCX,
    HTML,
    JSON,
    MARKDOWN,
    PDF,
    SUPPORTED_EXTENSIONS,
    TEXT,
    detect_media_type,
    split_media_type,
)

__all__ = [
    "DEFAULT_LIMITS",
    "SUPPORTED_EXTENSIONS",
    "ParseLimits",
    "ParsedDocument",
    "Section",
    "detect_media_type",
    "parse_document",
    "parse_file",
]

#: ParseLimits is frozen, so one shared default instance is safe.
DEFAULT_LIMITS = ParseLimits()

#: Media type -> (module, function). Imported on first use: pypdf and python-docx cost ~0.2 s of
#: import time that a query process, which rarely parses, should not pay at cold start.
_PARSERS: dict[str, tuple[str, str]] = {
    TEXT: ("text", "parse_text"),
    MARKDOWN: ("markdown", "parse_markdown"),
    HTML: ("html", "parse_html"),
    PDF: ("pdf", "parse_pdf"),
    DOCX: ("docx", "parse_docx"),
    JSON: ("json_", "parse_json"),
}


def _parser(media_type: str) -> Parser:
    module, function = _PARSERS[media_type]
    parser: Parser = getattr(import_module(f"knowledgebeast.parsing.{module}"), function)
    return parser


def parse_document(
    data: bytes, *, filename: str, media_type: str | None = None, limits: ParseLimits = DEFAULT_LIMITS
) -> ParsedDocument:
    """Parse ``data``; ``media_type`` is the declared type (its ``charset`` parameter is honoured)."""
    if len(data) > limits.max_bytes:
        raise too_large(filename, "file size in bytes", len(data), limits.max_bytes)
    detected = detect_media_type(filename, data, media_type)
    _, charset = split_media_type(media_type)
    try:
        return _parser(detected)(data, filename, limits, charset=charset)
    except KnowledgeBeastError:
        raise
    except RecursionError as exc:  # last line of defence; parsers handle their own known cases
        raise ParseError(filename, "document structure nested too deeply") from exc
    except Exception as exc:  # a library surprise on hostile input fails this file, not the batch
        raise ParseError(filename, f"unexpected parser failure ({type(exc).__name__})") from exc


def parse_file(path: Path, *, media_type: str | None = None, limits: ParseLimits = DEFAULT_LIMITS) -> ParsedDocument:
    """Parse a file on disk, refusing oversize files from ``stat`` before reading a byte."""
    path = Path(path)
    filename = path.name
    try:
        info = os.stat(path)
    except OSError as exc:
        raise ParseError(filename, f"cannot read file ({exc.strerror or type(exc).__name__})") from exc
    if not stat.S_ISREG(info.st_mode):
        raise ParseError(filename, "not a regular file")
    if info.st_size > limits.max_bytes:
        raise too_large(filename, "file size in bytes", info.st_size, limits.max_bytes)
    try:
        with open(path, "rb") as handle:
            data = handle.read(limits.max_bytes + 1)  # the file may have grown since stat
    except OSError as exc:
        raise ParseError(filename, f"cannot read file ({exc.strerror or type(exc).__name__})") from exc
    return parse_document(data, filename=filename, media_type=media_type, limits=limits)
