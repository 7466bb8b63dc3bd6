"""Plain text: decoded as found, one section; structure is left to the chunker."""

from __future__ import annotations

from knowledgebeast.parsing.base import DocumentBuilder, ParsedDocument, ParseLimits
from knowledgebeast.parsing.detect import TEXT
from knowledgebeast.parsing.encoding import decode_text


def parse_text(data: bytes, filename: str, limits: ParseLimits, *, charset: str | None = None) -> ParsedDocument:
    """One section holding the whole (stripped) text; no title, since plain text declares none."""
    decoded = decode_text(data, filename, hint=charset)
    builder = DocumentBuilder(filename, TEXT, limits)
    builder.add_section(decoded.text)
    return builder.build(metadata=decoded.metadata())
