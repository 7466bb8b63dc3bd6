"""A tiny PDF writer for fixtures: exact control over the object graph, no third-party generator.

pypdf cannot lay out text and hostile structures (cyclic page trees, self-referencing objects)
cannot be produced by any sane generator, so fixtures are written object by object here.
"""

from __future__ import annotations

FONT = b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>"


def escape_pdf_string(text: str) -> bytes:
    """A PDF literal string body for ``text`` (WinAnsi-encoded, parentheses and backslashes escaped)."""
    raw = text.encode("cp1252")
    return raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)")


def text_stream(lines: list[str]) -> bytes:
    """A content stream object that shows ``lines`` top-down in Helvetica 12pt."""
    ops = [b"BT /F1 12 Tf 14 TL 72 720 Td"]
    ops.extend(b"(" + escape_pdf_string(line) + b") Tj T*" for line in lines)
    ops.append(b"ET")
    content = b"\n".join(ops)
    return b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"


def serialize(objects: list[bytes], *, root: int = 1, info: int | None = None) -> bytes:
    """Number ``objects`` from 1, write them with a correct xref table and trailer."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref_at = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"<< /Size %d /Root %d 0 R" % (len(objects) + 1, root)
    if info is not None:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n" + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref_at
    return bytes(out)


def text_pdf(pages: list[list[str]], *, title: str | None = None, author: str | None = None) -> bytes:
    """A valid PDF with one page per entry of ``pages``; an empty entry makes a page without text."""
    n = len(pages)
    # 1 catalog, 2 pages, 3 font, then (page, content) pairs, then optional info.
    kids = b" ".join(b"%d 0 R" % (4 + 2 * i) for i in range(n))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % n,
        FONT,
    ]
    for i, lines in enumerate(pages):
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents %d 0 R >>" % (5 + 2 * i)
        )
        objects.append(text_stream(lines))
    info = None
    if title is not None or author is not None:
        entries = b""
        if title is not None:
            entries += b" /Title (" + escape_pdf_string(title) + b")"
        if author is not None:
            entries += b" /Author (" + escape_pdf_string(author) + b")"
        objects.append(b"<<" + entries + b" >>")
        info = len(objects)
    return serialize(objects, info=info)
