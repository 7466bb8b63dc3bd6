"""PDF via pypdf: one section per page, so every chunk can cite its page number.

PDFs are the format most likely to be hostile or broken: cyclic page trees, self-referencing
objects, deeply nested arrays, decompression bombs. pypdf detects cycles and caps decompression
itself (``LimitReachedError``); anything it raises instead - including ``RecursionError`` on deep
nesting - is turned into a ``ParseError`` here, so one bad upload fails alone and never crashes the
worker. Messages are our own words: pypdf's text stays in the exception chain for logs.
"""

from __future__ import annotations

import re
from io import BytesIO

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, LimitReachedError

from knowledgebeast.errors import ParseError
from knowledgebeast.parsing.base import DocumentBuilder, ParsedDocument, ParseLimits, too_large
from knowledgebeast.parsing.detect import PDF

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_EMPTY_HINT = "no extractable text (scanned or image-only PDF?)"


def parse_pdf(data: bytes, filename: str, limits: ParseLimits, *, charset: str | None = None) -> ParsedDocument:
    """Sections per page with 1-based page numbers; title and author from the document info."""
    try:
        reader = PdfReader(BytesIO(data), strict=False)
        encrypted = reader.is_encrypted
        if encrypted:
            _decrypt(reader, filename)
        page_count = len(reader.pages)
    except ParseError:
        raise
    except RecursionError as exc:
        raise ParseError(filename, "corrupt PDF: object structure nested too deeply") from exc
    except LimitReachedError as exc:
        raise ParseError(filename, "corrupt PDF: cyclic or oversized structure (PDF reader safety limit)") from exc
    except Exception as exc:  # pypdf raises many unrelated types on malformed input
        raise ParseError(filename, "corrupt or unreadable PDF") from exc
    if page_count > limits.max_pages:
        raise too_large(filename, "page count", page_count, limits.max_pages)
    builder = DocumentBuilder(filename, PDF, limits)
    for number in range(1, page_count + 1):
        builder.add_section(_page_text(reader, number, filename), page=number)
    title, author = _info(reader)
    metadata: dict[str, object] = {"pages": page_count, "author": author or ""}
    if encrypted:
        metadata["encrypted"] = True
    return builder.build(title=title, metadata=metadata, empty_hint=_EMPTY_HINT)


def _decrypt(reader: PdfReader, filename: str) -> None:
    """Open PDFs that only carry an owner password (empty user password); refuse the rest.

    Owner-password-only PDFs (copy/print restrictions) open in every viewer without a prompt, so
    their text is as public as the file; a user password means the content is meant to be secret.
    """
    try:
        result = reader.decrypt("")
    except DependencyError as exc:
        raise ParseError(filename, "encrypted PDF (its cipher is not supported here)") from exc
    if result == PasswordType.NOT_DECRYPTED:
        raise ParseError(filename, "encrypted PDF (password required)")


def _page_text(reader: PdfReader, number: int, filename: str) -> str:
    """Text of one page, with control characters pypdf sometimes emits removed."""
    try:
        text = reader.pages[number - 1].extract_text()
    except RecursionError as exc:
        raise ParseError(filename, f"corrupt PDF: page {number} content nested too deeply") from exc
    except LimitReachedError as exc:
        raise ParseError(
            filename, f"corrupt PDF: page {number} has a cyclic or oversized structure (PDF reader safety limit)"
        ) from exc
    except Exception as exc:
        raise ParseError(filename, f"corrupt PDF: cannot extract text from page {number}") from exc
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def _info(reader: PdfReader) -> tuple[str | None, str | None]:
    """Title and author; a broken info dictionary costs the metadata, not the document."""
    try:
        info = reader.metadata
        if info is None:
            return None, None
        title, author = info.title, info.author
    except Exception:
        return None, None
    return (title if isinstance(title, str) else None, author if isinstance(author, str) else None)
