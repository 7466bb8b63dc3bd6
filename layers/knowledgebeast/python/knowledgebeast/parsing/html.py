"""HTML: visible text only, split into sections at h1-h6.

Script, style, noscript, template, svg and the whole <head> (except <title>) are dropped: their text
is code or invisible and would pollute retrieval. Attributes are never emitted, so event handlers
and ``javascript:`` URLs cannot leak into the index. Block elements end lines, whitespace collapses
like a browser's (except in <pre>), and the stdlib parser is iterative, so deep nesting is harmless.
"""

from __future__ import annotations

import re
from collections import Counter
from html.parser import HTMLParser

from knowledgebeast.errors import ParseError
from knowledgebeast.parsing.base import DocumentBuilder, ParsedDocument, ParseLimits, heading_label
from knowledgebeast.parsing.detect import HTML
from knowledgebeast.parsing.encoding import decode_text

_SKIPPED = frozenset({"script", "style", "noscript", "template", "svg", "math", "head", "iframe", "object"})
#: Elements that start a paragraph (a blank line before and after) ...
_BLOCKS = frozenset(
    (
        "address article aside blockquote body caption details dialog div dl fieldset figcaption figure "
        "footer form header hr html legend main nav ol p pre section summary table ul"
    ).split()
)
#: ... and elements that only end a line (list items, table rows, line breaks).
_LINES = frozenset({"br", "dd", "dt", "li", "tr", "option"})
_HEADINGS = {f"h{level}": level for level in range(1, 7)}
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE)
_META_KEYS = {"author": "author", "description": "description"}
_SPACES = re.compile(r"[ \t\n\r\f\v\u00a0]+")


def parse_html(data: bytes, filename: str, limits: ParseLimits, *, charset: str | None = None) -> ParsedDocument:
    """Sections per heading; title from <title>, else the first <h1>."""
    declared = charset
    if declared is None and (meta := _META_CHARSET.search(data[:4096])) is not None:
        declared = meta.group(1).decode("ascii")
    decoded = decode_text(data, filename, hint=declared)
    extractor = _TextExtractor()
    try:
        extractor.feed(decoded.text)
        extractor.close()
    except Exception as exc:  # html.parser asserts on some malformed markup (e.g. "<![x>" on 3.11)
        raise ParseError(filename, "malformed HTML the parser cannot read") from exc
    builder = DocumentBuilder(filename, HTML, limits)
    for path, text in extractor.sections():
        builder.add_section(text, heading_path=path)
    metadata = decoded.metadata() | extractor.metadata
    return builder.build(title=extractor.title or extractor.first_h1, metadata=metadata)


class _TextExtractor(HTMLParser):
    """Collects visible text per heading section; ends lines at block boundaries."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title: str | None = None
        self.first_h1: str | None = None
        self.metadata: dict[str, object] = {}
        self._skip: list[str] = []  # open skipped elements; text is ignored while any is open
        self._skip_counts: Counter[str] = Counter()  # O(1) membership: hostile pages nest 10^5 deep
        self._pre = 0
        self._title_parts: list[str] | None = None  # set while inside <title>
        self._heading: tuple[int, list[str]] | None = None  # level and text of an open h1-h6
        self._stack: list[tuple[int, str]] = []
        self._done: list[tuple[tuple[str, ...], str]] = []
        self._path: tuple[str, ...] = ()
        self._out: list[str] = []

    def close(self) -> None:
        """Drop an unterminated tag, comment or declaration at end of input, as browsers do.

        CPython before 3.13.4/3.12.11 (gh-135462) re-scans such a tail once per ``<`` on close,
        which is quadratic: 40 KB of ``<a<a<a...`` took seconds. Input left unparsed after
        ``feed`` always starts at the unterminated construct, and none of it is visible text.
        """
        if self.rawdata.startswith("<") and self.cdata_elem is None:
            self.rawdata = ""
        super().close()

    def sections(self) -> list[tuple[tuple[str, ...], str]]:
        """(heading path, text) per section, including the one still being written."""
        return [*self._done, (self._path, "".join(self._out))]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self._skip == ["head"] and (tag == "body" or tag in _BLOCKS or tag in _HEADINGS):
            self._close_skipped("head")  # browsers close an unclosed <head> when body content starts
        if len(self._skip) == self._skip_counts["head"]:  # nothing but <head> open
            self._read_document_info(tag, dict(attrs))
        if tag in _SKIPPED:
            self._skip.append(tag)
            self._skip_counts[tag] += 1
        if self._skip:
            return
        if tag in _HEADINGS:
            self._done.append((self._path, "".join(self._out)))
            self._out = []
            self._heading = (_HEADINGS[tag], [])
        if tag == "pre":
            self._pre += 1
        if tag in _BLOCKS or tag in _HEADINGS:
            self._break(blank_line=True)
        elif tag in _LINES:
            self._break(blank_line=False)
        if tag in ("td", "th") and self._out and not self._out[-1].endswith("\n"):
            self._out.append(" | ")
        elif tag == "li":
            self._out.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            return  # <svg/> or <script/> opens nothing
        self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self._title_parts is not None:
            self.title = _SPACES.sub(" ", "".join(self._title_parts)).strip() or None
            self._title_parts = None
        if self._skip:
            self._close_skipped(tag)
            return
        if tag == "pre" and self._pre:
            self._pre -= 1
        if tag in _HEADINGS and self._heading is not None:
            self._close_heading()
        if tag in _BLOCKS or tag in _HEADINGS:
            self._break(blank_line=True)
        elif tag in _LINES:
            self._break(blank_line=False)

    def handle_data(self, data: str) -> None:
        if self._title_parts is not None:
            self._title_parts.append(data)
            return
        if self._skip:
            return
        if self._heading is not None:
            self._heading[1].append(data)
        if self._pre:
            self._out.append(data)
            return
        text = _SPACES.sub(" ", data)
        if not self._out or self._out[-1].endswith((" ", "\n")):
            text = text.lstrip(" ")
        if text:
            self._out.append(text)

    def _close_skipped(self, tag: str) -> None:
        """Close ``tag`` and anything opened inside it; a stray end tag closes nothing."""
        if not self._skip_counts[tag]:
            return
        while (popped := self._skip.pop()) != tag:
            self._skip_counts[popped] -= 1
        self._skip_counts[tag] -= 1

    def parse_marked_section(self, i: int, report: bool = True) -> int:
        """``<![...`` is a bogus comment up to the next ``>`` in HTML, as browsers treat it.

        CPython 3.11's version raises AssertionError on unknown keywords such as ``<![x>``.
        """
        end = self.rawdata.find(">", i + 3)
        return -1 if end < 0 else end + 1

    def _read_document_info(self, tag: str, attrs: dict[str, str | None]) -> None:
        """<title>, <html lang> and <meta name=author|description>: document-level, not body text."""
        if tag == "title" and self.title is None:
            self._title_parts = []
        elif tag == "html" and attrs.get("lang"):
            self.metadata["language"] = attrs["lang"]
        elif tag == "meta" and (key := _META_KEYS.get((attrs.get("name") or "").lower())):
            self.metadata.setdefault(key, attrs.get("content") or "")

    def _close_heading(self) -> None:
        assert self._heading is not None
        level, parts = self._heading
        self._heading = None
        text = heading_label("".join(parts))
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, text))
        self._path = tuple(t for _, t in self._stack if t)
        if level == 1 and self.first_h1 is None and text:
            self.first_h1 = text

    def _break(self, *, blank_line: bool) -> None:
        """End the current line (trimming trailing spaces); blocks also leave one blank line."""
        if not self._pre:
            while self._out and not self._out[-1].strip(" "):
                self._out.pop()
            if self._out:
                self._out[-1] = self._out[-1].rstrip(" ")
        if not self._out:
            return
        tail = "".join(self._out[-2:])[-2:]
        wanted = "\n\n" if blank_line else "\n"
        if not tail.endswith(wanted):
            self._out.append("\n" if tail.endswith("\n") else wanted)
