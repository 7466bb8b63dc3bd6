"""Which parser a file goes to: magic bytes, then the declared media type, then the extension.

Magic bytes win for PDF because a PDF saved as ``.txt`` is still a PDF, and parsing it as text
would index compressed garbage (a header after leading junk only counts for unclaimed files, so a
note that merely mentions "%PDF-1.7" stays a note). Declared types are often generic (``application/octet-stream``
from S3 or curl) or vaguer than the name (``text/plain`` for ``notes.md``), so those defer to the
extension. Anything left without a supported type is refused with 415 before any parser runs.
"""

from __future__ import annotations

from pathlib import PurePath

from knowledgebeast.errors import UnsupportedFormatError

TEXT = "text/plain"
MARKDOWN = "text/markdown"
HTML = "text/html"
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
JSON = "application/json"

EXTENSIONS: dict[str, str] = {
    ".txt": TEXT,
    ".text": TEXT,
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".html": HTML,
    ".htm": HTML,
    ".pdf": PDF,
    ".docx": DOCX,
    ".json": JSON,
}
SUPPORTED_EXTENSIONS: frozenset[str] = frozenset(EXTENSIONS)

_ALIASES: dict[str, str] = {
    TEXT: TEXT,
    MARKDOWN: MARKDOWN,
    "text/x-markdown": MARKDOWN,
    HTML: HTML,
    "application/xhtml+xml": HTML,
    PDF: PDF,
    "application/x-pdf": PDF,
    DOCX: DOCX,
    JSON: JSON,
    "text/json": JSON,
}
#: Declared types that say nothing about the content.
_GENERIC = frozenset(
    {
        "",
        "application/octet-stream",
        "binary/octet-stream",
        "application/binary",
        "application/unknown",
        "application/x-unknown",
    }
)
_PDF_MAGIC = b"%PDF-"
_ZIP_MAGIC = b"PK\x03\x04"
_PDF_HEADER_WINDOW = 1024  # readers accept a PDF header preceded by junk within the first KB


def split_media_type(declared: str | None) -> tuple[str, str | None]:
    """``"Text/HTML; charset=latin1"`` -> ``("text/html", "latin1")``."""
    if not declared:
        return "", None
    essence, *params = declared.split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip("\"'")
    return essence.strip().lower(), charset


def detect_media_type(filename: str, data: bytes, declared: str | None = None) -> str:
    """The canonical media type to parse ``data`` as, or ``UnsupportedFormatError`` (415)."""
    essence, _ = split_media_type(declared)
    extension = PurePath(filename).suffix.lower()
    by_extension = EXTENSIONS.get(extension)
    by_declared = _ALIASES.get(essence)
    if data[:_PDF_HEADER_WINDOW].lstrip().startswith(_PDF_MAGIC):
        return PDF
    if by_declared == TEXT and by_extension is not None:
        by_declared = None  # "text/plain" for a .md/.html/.json file is a vague label, not a claim
    claimed = by_declared or by_extension
    if claimed is None and _PDF_MAGIC in data[:_PDF_HEADER_WINDOW]:
        return PDF  # header after junk: only trusted when nothing else claims the file
    if data.startswith(_ZIP_MAGIC) and claimed != DOCX:
        raise UnsupportedFormatError(filename, "zip archive (of zip-based formats only .docx is supported)")
    if claimed is not None:
        return claimed
    if essence not in _GENERIC:
        raise UnsupportedFormatError(filename, f"unsupported media type {essence!r}")
    if extension:
        raise UnsupportedFormatError(filename, f"unsupported file extension {extension!r}")
    raise UnsupportedFormatError(filename, "no file extension and no supported media type")
