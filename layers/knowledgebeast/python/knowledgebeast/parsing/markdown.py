"""Markdown: the source text itself, split into sections at headings.

Markdown is already readable, so the text is kept verbatim (code, lists, tables and all) and only
the front matter is lifted out into title/metadata. Each section starts at its heading line and runs
to the next heading, so a chunk read on its own still says what it is about, and ``heading_path``
carries the enclosing headings ("Deploy to AWS" > "Bootstrap") for citations and filtering.
Headings inside fenced code blocks are code, not structure.
"""

from __future__ import annotations

import re

from knowledgebeast.parsing.base import (
    MAX_HEADING_CHARS,
    DocumentBuilder,
    ParsedDocument,
    ParseLimits,
    heading_label,
    sections_from_spans,
)
from knowledgebeast.parsing.detect import MARKDOWN
from knowledgebeast.parsing.encoding import decode_text

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_NOT_PARAGRAPH = re.compile(r"^(?: {4}|\t| {0,3}(?:[>|]|[-*+][ \t]|\d{1,9}[.)][ \t]|<))")
_FRONT_MATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$", re.MULTILINE)
_FRONT_MATTER_KEY = re.compile(r"^([A-Za-z_][\w-]*)[ \t]*:[ \t]*(.*?)[ \t]*$")
_FRONT_MATTER_METADATA = ("author", "description", "date", "lang")
_INLINE = (
    (re.compile(r"!?\[([^\]]*)\](?:\([^)]*\)|\[[^\]]*\])"), r"\1"),  # links and images -> their text
    (re.compile(r"<[^>\n]+>"), ""),  # inline HTML tags
    (re.compile(r"(\*\*|__|~~|`+)(.+?)\1"), r"\2"),  # strong, strikethrough, code spans
    (re.compile(r"(?<!\w)[*_](\S(?:.*?\S)?)[*_](?!\w)"), r"\1"),  # emphasis
)


def parse_markdown(data: bytes, filename: str, limits: ParseLimits, *, charset: str | None = None) -> ParsedDocument:
    """Sections per heading; title from front matter ``title`` or else the first H1."""
    decoded = decode_text(data, filename, hint=charset)
    front_matter, body = split_front_matter(decoded.text)
    spans, first_h1 = heading_spans(body)
    builder = DocumentBuilder(filename, MARKDOWN, limits)
    sections_from_spans(builder, body, spans)
    metadata = decoded.metadata()
    metadata.update({key: front_matter[key] for key in _FRONT_MATTER_METADATA if key in front_matter})
    return builder.build(title=front_matter.get("title") or first_h1, metadata=metadata)


def split_front_matter(text: str) -> tuple[dict[str, str], str]:
    """YAML-style front matter as flat ``key: scalar`` pairs, and the body after it.

    Only top-level scalars are read (no YAML library: the runtime parsers stay dependency-light);
    lists and nested blocks are ignored rather than misread.
    """
    if not text.startswith("---\n"):
        return {}, text
    end = _FRONT_MATTER_END.search(text, 4)
    if end is None:
        return {}, text
    values: dict[str, str] = {}
    for line in text[4 : end.start()].splitlines():
        match = _FRONT_MATTER_KEY.match(line)
        if match is None:
            continue
        value = match.group(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        elif value.startswith(("[", "{", "|", ">")):
            continue
        if value:
            values[match.group(1).lower()] = value
    return values, text[end.end() :]


def heading_spans(body: str) -> tuple[list[tuple[int, tuple[str, ...]]], str | None]:
    """Start offset and heading path of every section, plus the first H1's text."""
    spans: list[tuple[int, tuple[str, ...]]] = [(0, ())]
    stack: list[tuple[int, str]] = []
    first_h1: str | None = None
    fence: str | None = None
    paragraph_start: int | None = None  # offset of the current paragraph (setext headings span it)
    paragraph_lines: list[str] = []
    offset = 0
    for line in body.split("\n"):
        line_start, offset = offset, offset + len(line) + 1
        heading: tuple[int, str, int] | None = None  # (level, text, section start)
        if fence is not None:
            if line.strip().startswith(fence) and not line.strip().strip(fence[0]):
                fence = None
            continue
        if (fence_match := _FENCE.match(line)) is not None:
            fence, paragraph_start, paragraph_lines = fence_match.group(1), None, []
            continue
        if (atx := _ATX.match(line)) is not None:
            heading = (len(atx.group(1)), atx.group(2) or "", line_start)
        elif paragraph_start is not None and (setext := _SETEXT.match(line)) is not None:
            level = 1 if setext.group(1).startswith("=") else 2
            heading = (level, " ".join(paragraph_lines), paragraph_start)
        elif line.strip() and not _NOT_PARAGRAPH.match(line):
            if paragraph_start is None:
                paragraph_start = line_start
            paragraph_lines.append(line.strip())
            continue
        paragraph_start, paragraph_lines = None, []
        if heading is None:
            continue
        level, raw_text, start = heading
        text = clean_inline(raw_text[: MAX_HEADING_CHARS * 2])
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, text))
        if level == 1 and first_h1 is None and text:
            first_h1 = text
        if spans[-1][0] == start:
            spans.pop()
        spans.append((start, tuple(t for _, t in stack if t)))
    return spans, first_h1


def clean_inline(text: str) -> str:
    """Heading text without link targets, emphasis markers or tags: "Deploy to `AWS`" -> "Deploy to AWS"."""
    for pattern, replacement in _INLINE:
        text = pattern.sub(replacement, text)
    return heading_label(text)
