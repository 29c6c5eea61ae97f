"""A minimal PDF 1.4 of text lines, written by hand (the project has no PDF library, and needs none for this).

The file has what a reader needs (ISO 32000-1 §7.5): header, one indirect object per catalog, page tree,
font, info and page and content stream, a cross-reference table with each object's byte offset, and a
trailer naming the root. Text is Helvetica (a standard Type 1 font, nothing embedded) in WinAnsi; content
streams are left uncompressed, so the words stay searchable as bytes. Everything in it comes from the
arguments: the same lines and date give the same bytes.
"""

from __future__ import annotations

import datetime

PAGE_WIDTH, PAGE_HEIGHT = 612, 792  # US Letter, in points
_MARGIN = 54
_FONT_SIZE = 10
_LEADING = 14
LINES_PER_PAGE = (PAGE_HEIGHT - 2 * _MARGIN) // _LEADING


def _text(value: str) -> bytes:
    """A PDF literal string, ``(...)``, with its delimiters escaped (WinAnsi; unmappable characters as '?')."""
    escaped = value.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("cp1252", errors="replace") + b")"


def _content(lines: list[str]) -> bytes:
    """One page's content stream: the lines top to bottom, one ``Tj`` each, ``T*`` between them."""
    out = [b"BT", f"/F1 {_FONT_SIZE} Tf {_LEADING} TL {_MARGIN} {PAGE_HEIGHT - _MARGIN} Td".encode()]
    for i, line in enumerate(lines):
        if i:
            out.append(b"T*")
        out.append(_text(line) + b" Tj")
    out.append(b"ET")
    return b"\n".join(out)


def _date(t: datetime.datetime) -> bytes:
    """A PDF date string (§7.9.4) of an aware instant, in UTC."""
    return _text(t.astimezone(datetime.timezone.utc).strftime("D:%Y%m%d%H%M%S+00'00'"))


def pdf_document(lines: list[str], title: str, created: datetime.datetime) -> bytes:
    """A PDF showing ``lines`` (LINES_PER_PAGE a page), titled ``title``, dated ``created`` (an aware instant)."""
    pages = [lines[i:i + LINES_PER_PAGE] for i in range(0, len(lines), LINES_PER_PAGE)] or [[]]
    first_page = 5  # objects 1-4: catalog, page tree, font, info; then a page and its content per page
    kids = b" ".join(f"{first_page + 2 * i} 0 R".encode() for i in range(len(pages)))
    objects: list[bytes] = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count " + str(len(pages)).encode() + b" >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Title " + _text(title) + b" /Producer (ibkr-pipelines IBKR simulator) /CreationDate "
        + _date(created) + b" >>",
    ]
    for i, page_lines in enumerate(pages):
        content = _content(page_lines)
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
                       f"/Resources << /Font << /F1 3 0 R >> >> /Contents {first_page + 2 * i + 1} 0 R >>".encode())
        objects.append(f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream")
    # The second line's bytes above 127 tell transfer tools the file is binary (§7.5.2).
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n".encode() + b"0000000000 65535 f \n"
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()  # each entry exactly 20 bytes (§7.5.4)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R /Info 4 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
