"""Word .docx via python-docx: body paragraphs and tables in document order, sections per heading.

A .docx is a zip, so the archive's declared uncompressed size is checked against
``max_docx_uncompressed_bytes`` *before* python-docx inflates anything: a 40 KB file can inflate
to gigabytes. Declared sizes cannot be used to sneak past the check, because Python's zipfile never
inflates an entry beyond its declared size (the CRC check then fails and the file is refused).
Headers, footers, footnotes, comments and text boxes are not extracted.
"""

from __future__ import annotations

import re
import zipfile
from io import BytesIO
from typing import Any

import docx
from docx.oxml.ns import qn
from docx.table import Table
from docx.text.paragraph import Paragraph

from knowledgebeast.errors import ParseError
from knowledgebeast.parsing.base import DocumentBuilder, ParsedDocument, ParseLimits, heading_label
from knowledgebeast.parsing.detect import DOCX

_HEADING_STYLE = re.compile(r"^heading\s*([1-9])$", re.IGNORECASE)
_MAX_STYLE_CHAIN = 16  # styles inherit via basedOn; a hostile file can make that chain a cycle
_MAX_TABLE_NESTING = 16
_BODY_OUTLINE_LEVEL = 9


def parse_docx(data: bytes, filename: str, limits: ParseLimits, *, charset: str | None = None) -> ParsedDocument:
    """Sections per heading; title from core properties, else a Title-styled paragraph or first heading."""
    check_archive(data, filename, limits)
    try:
        document = docx.Document(BytesIO(data))
        return _extract(document, filename, limits)
    except ParseError:
        raise
    except Exception as exc:  # python-docx/lxml raise many types on malformed packages
        raise ParseError(filename, "corrupt or unreadable .docx") from exc


def check_archive(data: bytes, filename: str, limits: ParseLimits) -> None:
    """Refuse non-zips and zip bombs from the central directory alone, before any decompression."""
    try:
        with zipfile.ZipFile(BytesIO(data)) as archive:
            total = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError) as exc:
        raise ParseError(filename, "not a valid .docx (not a zip archive)") from exc
    if total > limits.max_docx_uncompressed_bytes:
        raise ParseError(
            filename,
            f"uncompressed size {total} bytes exceeds the limit of {limits.max_docx_uncompressed_bytes} "
            "(possible zip bomb, refused before decompression)",
            status_code=413,
        )


def _extract(document: Any, filename: str, limits: ParseLimits) -> ParsedDocument:
    builder = DocumentBuilder(filename, DOCX, limits)
    stack: list[tuple[int, str]] = []
    path: tuple[str, ...] = ()
    blocks: list[str] = []
    style_title: str | None = None
    headings: list[tuple[int, str]] = []
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            if table_text := _table_text(item, 0):
                blocks.append(table_text)
            continue
        text = item.text.strip()
        level = _heading_level(item)
        if level is None or not text:
            if text and style_title is None and _style_name(item).lower() == "title":
                style_title = text
            if text:
                blocks.append(text)
            continue
        builder.add_section("\n\n".join(blocks), heading_path=path)
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, heading_label(text)))
        path, blocks = tuple(t for _, t in stack), [text]
        headings.append((level, text))
    builder.add_section("\n\n".join(blocks), heading_path=path)
    core = document.core_properties
    first_heading = min(headings, key=lambda h: h[0])[1] if headings else None
    title = core.title or style_title or first_heading
    return builder.build(title=title, metadata={"author": core.author or ""})


def _table_text(table: Table, depth: int) -> str:
    """Rows as lines, cells joined by " | "; merged cells (repeated by python-docx) appear once."""
    rows = []
    for row in table.rows:
        seen: set[int] = set()
        cells = []
        for cell in row.cells:
            if id(cell._tc) in seen:
                continue
            seen.add(id(cell._tc))
            parts = [p.text.strip() for p in cell.paragraphs]
            if depth < _MAX_TABLE_NESTING:
                parts += [_table_text(nested, depth + 1) for nested in cell.tables]
            cells.append(" ".join(" ".join(part.split()) for part in parts if part.strip()))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _heading_level(paragraph: Paragraph) -> int | None:
    """1-9 for headings: by "Heading N" style name, else by outline level (localised style names)."""
    if (match := _HEADING_STYLE.match(_style_name(paragraph))) is not None:
        return int(match.group(1))
    level = _outline_level(paragraph._p.pPr)
    style = paragraph.style
    for _ in range(_MAX_STYLE_CHAIN):
        if level is not None or style is None:
            break
        level = _outline_level(style.element.pPr)
        style = style.base_style
    if level is None or level >= _BODY_OUTLINE_LEVEL:
        return None
    return level + 1


def _outline_level(ppr: Any) -> int | None:
    element = None if ppr is None else ppr.find(qn("w:outlineLvl"))
    value = None if element is None else element.get(qn("w:val"))
    return int(value) if value is not None and value.isdigit() else None


def _style_name(paragraph: Paragraph) -> str:
    style = paragraph.style
    return (style.name or "") if style is not None else ""
