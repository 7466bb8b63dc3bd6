"""Builders for hostile inputs, written into a test's tmp dir at run time (never committed).

Each builder returns the path it wrote. They are deliberately cheap to produce: the zip bomb is
streamed through the compressor in 1 MiB pieces, and the 1 GB file is sparse (``truncate``), so
the tests cost seconds and megabytes even though the inputs claim gigabytes.
"""

from __future__ import annotations

import struct
import zipfile
from pathlib import Path

from tests.utils.pdf_builder import FONT, serialize, text_stream

MIB = 1024 * 1024

_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" '
    b'ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b"</Types>"
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Target="word/document.xml" '
    b'Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"/>'
    b"</Relationships>"
)
_DOC_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>'
    b"<w:p><w:r><w:t>zip bomb</w:t></w:r></w:p>"
)
_DOC_TAIL = b"</w:body></w:document>"


def _docx_with_padding(path: Path, padding: int) -> Path:
    """A structurally valid .docx whose document.xml carries ``padding`` bytes of whitespace."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        with archive.open("word/document.xml", "w", force_zip64=True) as part:
            part.write(_DOC_HEAD)
            block = b" " * MIB
            remaining = padding
            while remaining > 0:
                part.write(block[: min(remaining, MIB)])
                remaining -= MIB
            part.write(_DOC_TAIL)
    return path


def zip_bomb_docx(directory: Path, uncompressed_bytes: int) -> Path:
    """A .docx (about 1/250 of its inflated size on disk) that inflates to ``uncompressed_bytes``."""
    return _docx_with_padding(directory / "bomb.docx", uncompressed_bytes)


def entity_expansion_docx(directory: Path, levels: int = 10) -> Path:
    """A .docx whose document.xml is a "billion laughs" entity bomb (10^levels expansions)."""
    entities = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10 if i else "lol"}">' for i in range(levels))
    document_xml = (
        f'<?xml version="1.0"?><!DOCTYPE d [{entities}]>'
        '<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main">'
        f"<w:body><w:p><w:r><w:t>&e{levels - 1};</w:t></w:r></w:p></w:body></w:document>"
    )
    path = directory / "laughs.docx"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("[Content_Types].xml", _CONTENT_TYPES)
        archive.writestr("_rels/.rels", _RELS)
        archive.writestr("word/document.xml", document_xml)
    return path


def lying_zip_docx(directory: Path, real_bytes: int = 4 * MIB, declared_bytes: int = 1000) -> Path:
    """A .docx whose zip headers under-declare document.xml's inflated size.

    The archive-size pre-check trusts declared sizes; this file proves a liar gains nothing
    (Python's zipfile inflates at most the declared size, then fails the CRC check).
    """
    path = _docx_with_padding(directory / "liar.docx", real_bytes)
    data = bytearray(path.read_bytes())
    name = b"word/document.xml"
    # Central directory record: uncompressed size at +24; name at +46. With force_zip64 the real
    # sizes live in a zip64 extra field, whose 8-byte uncompressed size follows a 4-byte header.
    central = data.index(b"PK\x01\x02")
    while data[central + 46 : central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    name_len, extra_len = struct.unpack_from("<HH", data, central + 28)
    extra = central + 46 + name_len
    end = extra + extra_len
    while extra < end:
        tag, size = struct.unpack_from("<HH", data, extra)
        if tag == 0x0001:
            struct.pack_into("<Q", data, extra + 4, declared_bytes)
        extra += 4 + size
    if struct.unpack_from("<I", data, central + 24)[0] != 0xFFFFFFFF:
        struct.pack_into("<I", data, central + 24, declared_bytes)
    path.write_bytes(bytes(data))
    return path


def _page_pdf(extra_objects: list[bytes], page_extra: bytes = b"", catalog_extra: bytes = b"") -> bytes:
    """Catalog, Pages, one text page and its content; ``extra_objects`` are numbered from 6."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R " + catalog_extra + b">>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R " + page_extra + b">>",
        FONT,
        text_stream(["Visible text survives the loop."]),
        *extra_objects,
    ]
    return serialize(objects)


def cyclic_pdf(directory: Path, kind: str) -> Path:
    """PDFs whose object graph loops or nests pathologically.

    ``self_kids``: the page tree's Kids contains the Pages node itself.
    ``mutual_kids``: two Pages nodes list each other as kids.
    ``parent_loop``: inherited attributes must be looked up through a /Parent cycle.
    ``deep_content``: a content stream with 100 000 nested arrays (recursive descent parser bait).
    ``outline_loop``: the bookmark tree links to itself; irrelevant to text, so the PDF parses.
    """
    if kind == "self_kids":
        data = serialize([b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [2 0 R] /Count 1 >>"])
    elif kind == "mutual_kids":
        data = serialize(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Pages /Kids [2 0 R] /Parent 2 0 R /Count 1 >>",
            ]
        )
    elif kind == "parent_loop":
        content = b"BT /F1 12 Tf (looped) Tj ET"
        data = serialize(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 /Parent 3 0 R >>",
                b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>",
                b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            ]
        )
    elif kind == "deep_content":
        content = b"BT /F1 12 Tf (deep) Tj ET " + b"[" * 100_000 + b"]" * 100_000
        stream = b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"
        data = serialize(
            [
                b"<< /Type /Catalog /Pages 2 0 R >>",
                b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
                b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
                b"/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
                FONT,
                stream,
            ]
        )
    elif kind == "outline_loop":
        data = _page_pdf(
            [
                b"<< /Type /Outlines /First 7 0 R /Last 7 0 R >>",
                b"<< /Title (loop) /Parent 6 0 R /Next 7 0 R /First 7 0 R >>",
            ],
            catalog_extra=b"/Outlines 6 0 R ",
        )
    else:
        raise ValueError(f"unknown cyclic PDF kind {kind!r}")
    path = directory / f"{kind}.pdf"
    path.write_bytes(data)
    return path


def sparse_file(directory: Path, size: int = 1024 * MIB, name: str = "huge.txt") -> Path:
    """A file that reports ``size`` bytes but occupies (almost) no disk: nothing is written."""
    path = directory / name
    with open(path, "wb") as handle:
        handle.truncate(size)
    return path


def invalid_utf8_txt(directory: Path) -> Path:
    """Mostly valid UTF-8 with stray invalid bytes (a lone continuation byte, a truncated sequence)."""
    path = directory / "damaged.txt"
    path.write_bytes("Grüße aus München. ".encode() * 5 + b"\x80 broken \xe2\x82 end. " + "Schön.".encode())
    return path


def hostile_html(directory: Path) -> Path:
    """Scripts in every hiding place, event handlers, javascript: URLs, an unclosed <script>."""
    path = directory / "hostile.html"
    path.write_text(
        "<html><head><script>stealCookies()</script></head>"
        '<body onload="evilOnload()"><h1 onclick="evilClick()">Safe heading</h1>'
        '<p>Safe paragraph <a href="javascript:evilHref()">link</a>'
        '<img src="x" onerror="evilImage()"></p>'
        "<svg><script>evilSvg()</script><text>svg text</text></svg>"
        "<SCRIPT type='module'>evilUpper()</SCRIPT>"
        "<!-- <script>evilComment()</script> -->"
        '<iframe srcdoc="<script>evilFrame()</script>">fallback</iframe>'
        "<p>Closing words.</p><script>evilUnclosed() /* never closed",
        encoding="utf-8",
    )
    return path


def deep_json(directory: Path, depth: int = 100_000) -> Path:
    """``[[[[...]]]]`` nested ``depth`` deep: enough to crash a recursive decoder."""
    path = directory / "deep.json"
    path.write_bytes(b"[" * depth + b"]" * depth)
    return path
