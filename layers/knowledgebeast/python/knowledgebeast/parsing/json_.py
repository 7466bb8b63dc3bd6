"""JSON: document-shaped objects give their text fields; anything else is flattened to lines.

``{"title": ..., "body": ...}`` exports from CMSs and wikis are documents, so their text fields are
used as is. Other JSON (configs, API dumps) becomes ``key.path: value`` lines, which keep each value
next to the name that explains it. Nesting depth is checked by scanning brackets *before*
``json.loads``: the C decoder recurses, and 10^5 nested ``[`` would otherwise end in RecursionError.
Flattening is iterative and stops as soon as the output passes ``max_chars`` (long key paths
repeated per leaf can make it far larger than the input).
"""

from __future__ import annotations

import json
import re
from typing import Any

from knowledgebeast.errors import ParseError
from knowledgebeast.parsing.base import DocumentBuilder, ParsedDocument, ParseLimits, too_large
from knowledgebeast.parsing.detect import JSON
from knowledgebeast.parsing.encoding import decode_text

TEXT_FIELDS = ("text", "content", "body")
#: A complete string literal, a bracket, or a lone quote (an unterminated string: stop scanning).
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]|"')


def parse_json(data: bytes, filename: str, limits: ParseLimits, *, charset: str | None = None) -> ParsedDocument:
    """Text fields of a document object, else flattened ``key.path: value`` lines; title from "title"."""
    decoded = decode_text(data, filename, hint=charset)
    check_depth(decoded.text, filename, limits.max_json_depth)
    try:
        value = json.loads(decoded.text)
    except json.JSONDecodeError as exc:
        raise ParseError(filename, f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from exc
    except (ValueError, RecursionError) as exc:  # e.g. integers beyond the int-to-str digit limit
        raise ParseError(filename, "invalid JSON: value out of range") from exc
    builder = DocumentBuilder(filename, JSON, limits)
    fields = [value[k] for k in TEXT_FIELDS if isinstance(value, dict) and isinstance(value.get(k), str)]
    if any(field.strip() for field in fields):
        for field in fields:
            builder.add_section(field.replace("\r\n", "\n"))
    else:
        builder.add_section("\n".join(flatten(value, filename, limits.max_chars)))
    document = value if isinstance(value, dict) else {}
    title = document.get("title") if isinstance(document.get("title"), str) else None
    metadata = decoded.metadata()
    if isinstance(document.get("author"), str):
        metadata["author"] = document["author"]
    return builder.build(title=title, metadata=metadata)


def check_depth(text: str, filename: str, max_depth: int) -> None:
    """Refuse nesting deeper than ``max_depth`` without recursing (strings are skipped as tokens)."""
    if text.count("[") + text.count("{") <= max_depth:
        return  # cannot be deeper than the number of openers
    depth = 0
    for match in _TOKENS.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            if depth > max_depth:
                raise ParseError(filename, f"JSON nested deeper than {max_depth} levels")
        elif token in ("]", "}"):
            depth -= 1
        elif token == '"':
            return  # unterminated string: json.loads reports the real error


def flatten(value: Any, filename: str, max_chars: int) -> list[str]:
    """``{"a": {"b": [1, 2]}}`` -> ``["a.b[0]: 1", "a.b[1]: 2"]``; nulls and blank strings are dropped."""
    lines: list[str] = []
    size = 0
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, dict):
            children = [(f"{path}.{key}" if path else str(key), child) for key, child in node.items()]
            stack.extend(reversed(children))
        elif isinstance(node, list):
            stack.extend(reversed([(f"{path}[{i}]", child) for i, child in enumerate(node)]))
        elif node is not None and not (isinstance(node, str) and not node.strip()):
            scalar = _scalar(node)
            line = f"{path}: {scalar}" if path else scalar
            size += len(line) + 1
            if size > max_chars:
                raise too_large(filename, "flattened JSON text length", size, max_chars)
            lines.append(line)
    return lines


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else repr(value)
