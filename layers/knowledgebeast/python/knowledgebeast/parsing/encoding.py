"""Bytes to text for every text-based format (txt, markdown, html, json).

Order of evidence, strongest first: a byte-order mark; an encoding the caller or the document
declares; strict UTF-8 (what nearly everything is today); UTF-8 with a few corrupt bytes; Western
European Windows-1252 (the most common legacy encoding, which charset-normalizer often confuses
with Baltic or Central European code pages on short Latin text); and finally charset-normalizer.
Binary data renamed to ``.txt`` is refused instead of being indexed as mojibake: NUL bytes
(outside UTF-16/32), a high share of control characters, or no plausible encoding at all.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

import charset_normalizer

from knowledgebeast.errors import ParseError

_BOMS: tuple[tuple[bytes, str], ...] = (
    # UTF-32 first: its little-endian BOM starts with the UTF-16 one.
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
#: Labels browsers treat as Windows-1252 (WHATWG Encoding Standard): real "latin-1" files use 0x80-0x9F
#: for curly quotes and dashes, which ISO-8859-1 would turn into invisible C1 controls.
_WINDOWS_1252_ALIASES = frozenset(
    ("iso-8859-1 iso8859-1 iso_8859-1 latin1 latin-1 l1 us-ascii ascii cp819 ibm819 cp1252 windows-1252").split()
)
#: Declared encodings never trusted without a BOM (UTF-7 is a known filter-evasion vector).
_IGNORED_HINTS = ("utf-16", "utf16", "utf-32", "utf32", "utf-7", "utf7")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
_MAX_CONTROL_RATIO = 0.10
_SAMPLE_BYTES = 256 * 1024
_ASCII_LETTER = re.compile(r"[A-Za-z]")
_LATIN1_LETTER = re.compile(r"[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u00ff\u0152\u0153\u0160\u0161\u0178\u017d\u017e]")
#: A Latin-1 symbol (superscript, fraction, currency...) between two letters: a sign the bytes were
#: really letters of another code page (e.g. Polish "ł" in cp1250 decodes as "³" in cp1252).
_SYMBOL_IN_WORD = re.compile(r"[A-Za-z\u00c0-\u00ff][\u00a1-\u00b6\u00b8-\u00bf\u00d7\u00f7][A-Za-z\u00c0-\u00ff]")


@dataclass(frozen=True)
class DecodedText:
    """Decoded, newline-normalised text and the encoding that produced it."""

    text: str
    encoding: str
    replaced_bytes: int = 0

    def metadata(self) -> dict[str, object]:
        """What every decoded format reports: the encoding, and the damage if bytes were replaced."""
        out: dict[str, object] = {"encoding": self.encoding}
        if self.replaced_bytes:
            out["replaced_bytes"] = self.replaced_bytes
        return out


def decode_text(data: bytes, filename: str, *, hint: str | None = None) -> DecodedText:
    """Decode ``data`` or raise ``ParseError(..., "binary content ...")``; ``hint`` is a declared charset."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            try:
                return _finish(data[len(bom) :].decode(encoding), encoding, filename)
            except UnicodeDecodeError as exc:
                raise ParseError(filename, f"invalid {encoding} text after its byte-order mark") from exc
    if b"\x00" in data:
        utf16 = _utf16_without_bom(data)
        if utf16 is None:
            raise ParseError(filename, "binary content (contains NUL bytes)")
        try:
            return _finish(data.decode(utf16), utf16, filename)
        except UnicodeDecodeError as exc:
            raise ParseError(filename, "binary content (contains NUL bytes)") from exc
    for candidate in (_usable_hint(hint), "utf-8"):
        if candidate:
            try:
                return _finish(data.decode(candidate), _display_name(candidate), filename)
            except UnicodeDecodeError:
                continue
    return _decode_legacy(data, filename)


def _decode_legacy(data: bytes, filename: str) -> DecodedText:
    """Bytes that are not valid UTF-8: corrupt UTF-8, Windows-1252, or whatever charset-normalizer finds."""
    replaced = data.decode("utf-8", errors="replace")
    bad = replaced.count("\ufffd")
    good = len(replaced) - len(replaced.encode("ascii", "ignore")) - bad
    if good > bad:
        # Mostly valid multi-byte UTF-8: a damaged UTF-8 file, not a legacy one. A handful of U+FFFD
        # beats turning every correct accent into mojibake.
        return _finish(replaced, "utf-8", filename, replaced_bytes=bad)
    try:
        western = data.decode("cp1252")
    except UnicodeDecodeError:
        western = None
    if western is not None and _looks_western(data[:_SAMPLE_BYTES].decode("cp1252", errors="replace")):
        return _finish(western, "windows-1252", filename)
    for match in charset_normalizer.from_bytes(data):
        # Without a BOM or NUL bytes, UTF-16/32 "matches" are artefacts of tiny inputs.
        if match.encoding.startswith(("utf_16", "utf_32")):
            continue
        return _finish(str(match), _display_name(match.encoding), filename)
    raise ParseError(filename, "binary content (no plausible text encoding)")


def _finish(text: str, encoding: str, filename: str, *, replaced_bytes: int = 0) -> DecodedText:
    """Normalise newlines and refuse text that is mostly control characters (i.e. binary)."""
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    controls = len(text) - len(_CONTROL.sub("", text))
    if text and controls / len(text) > _MAX_CONTROL_RATIO:
        raise ParseError(filename, f"binary content ({controls} control characters in {len(text)})")
    return DecodedText(text=text, encoding=encoding, replaced_bytes=replaced_bytes)


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 without a BOM shows NUL bytes in one byte position only (ASCII characters' high byte)."""
    if len(data) % 2:
        return None
    units = len(data) // 2
    even_zeros, odd_zeros = data[0::2].count(0), data[1::2].count(0)
    if even_zeros == 0 and odd_zeros >= units * 0.1:
        return "utf-16-le"
    if odd_zeros == 0 and even_zeros >= units * 0.1:
        return "utf-16-be"
    return None


def _usable_hint(hint: str | None) -> str | None:
    """A declared charset worth trying, mapped the way browsers map it; None if unknown or unsafe."""
    if not hint:
        return None
    label = hint.strip().strip("\"'").lower()
    if label in _WINDOWS_1252_ALIASES:
        return "cp1252"
    if label.startswith(_IGNORED_HINTS):
        return None
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def _display_name(codec: str) -> str:
    """Report encodings by their common labels (``utf-8``, ``windows-1252``), not Python codec names."""
    return {"utf-8": "utf-8", "cp1252": "windows-1252"}.get(codecs.lookup(codec).name, codec)


def _looks_western(sample: str) -> bool:
    """Whether Windows-1252 is a plausible reading: few accented letters, no symbols inside words.

    Western European languages have accented letters sprinkled among ASCII ones; text in Cyrillic,
    Greek or Central European code pages read as cp1252 has mostly non-ASCII letters or symbols.
    """
    ascii_letters = len(_ASCII_LETTER.findall(sample))
    accented = len(_LATIN1_LETTER.findall(sample))
    if ascii_letters + accented == 0:
        return False
    if accented / (ascii_letters + accented) > 0.3:
        return False
    return len(_SYMBOL_IN_WORD.findall(sample)) <= max(1, accented // 50)
