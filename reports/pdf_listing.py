"""Long fixed-width listings (the populations and the evidence index) drawn straight into the PDF.

WeasyPrint lays out and paints text glyph by glyph in Python: a 10,000-finding scan's populations and
evidence index (about a million characters) took two thirds of the PDF's time. These listings need no
layout engine: they are monospaced lines. So the report reserves empty, fixed-height blocks for them (one
per page, `break-before: page`), WeasyPrint numbers and decorates those pages like any other (running
title, "Page N of M", table of contents), and a finisher writes each page's lines into its content stream
in Courier, one of the PDF's standard fonts (nothing to embed, text reads back with any PDF reader).

Pagination is ours and pure (`paginate`): a block's heading stays with its first lines, long lines wrap
with an indent, and the anchors of a block (`pop-3`) are placed at the line they start on, so links from
the workpapers land on the right line. Characters outside Windows-1252 (the standard fonts' encoding) are
drawn as "?": resource ids are ASCII in practice, and report.html and findings.csv keep the exact text.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reports import pdf_prose
from reports.pdf_prose import Span

FONT_SIZE = 7.2
"""Points; Courier's advance is 0.6 em, so 4.32 pt a character."""
LEADING = 8.6
CHARS_PER_LINE = 172
"""A4 landscape less 14 mm margins is 762 pt wide: 176 Courier characters at 7.2 pt, less a safety band."""
LINES_PER_PAGE = 57
"""176 mm of page body (498 pt) at 8.6 pt a line is 57 lines."""
FIRST_PAGE_ALLOWANCE = 12
"""Lines left free on a section's first page for its heading and note, which WeasyPrint lays out."""
KEEP_WITH_HEADING = 3
INDENT = " " * 7
FONTS = {"regular": "CmplMono", "bold": "CmplMonoB", "sans": "CmplSans", "sans-bold": "CmplSansB"}
BASE_FONTS = {"regular": "/Courier", "bold": "/Courier-Bold", "sans": "/Helvetica",
              "sans-bold": "/Helvetica-Bold"}
BODY_HEIGHT = LINES_PER_PAGE * LEADING
"""Points of page body a listing page fills."""


@dataclass(frozen=True)
class Line:
    """A monospaced line (`text`), or a line of proportional text already broken to the page's width
    (`spans`, reports.pdf_prose), drawn `indent` points in."""

    text: str
    bold: bool = False
    spans: tuple[Span, ...] = ()
    indent: float = 0.0


@dataclass(frozen=True)
class Block:
    """Lines that belong together: `head` lines (kept with the first body lines) then the body."""

    head: Sequence[Line]
    body: Sequence[Line]
    anchor: str | None = None
    space: int | None = None
    """Blank lines before the block, where it differs from the listing's spacing."""


@dataclass
class ListingPage:
    id: str
    lines: list[Line] = field(default_factory=list)
    anchors: list[tuple[str, int]] = field(default_factory=list)
    """(anchor, line number on the page) of each block that starts here."""
    leading: float = LEADING

    @property
    def height(self) -> float:
        """The reserved block's height in points."""
        return round(len(self.lines) * self.leading, 2)


def wrap(line: Line, width: int = CHARS_PER_LINE) -> list[Line]:
    """A long line as several, the continuation lines indented like a population's reason line."""
    if line.spans:
        return [line]
    text = line.text.rstrip()
    if len(text) <= width:
        return [Line(text, line.bold)]
    out = [Line(text[:width], line.bold)]
    rest = text[width:]
    step = width - len(INDENT)
    while rest:
        out.append(Line(INDENT + rest[:step], line.bold))
        rest = rest[step:]
    return out


def text_lines(text: str, bold: bool = False) -> list[Line]:
    return [w for raw in text.split("\n") for w in wrap(Line(raw, bold))]


def paginate(name: str, blocks: Iterable[Block], *, repeat: Sequence[Line] = (),
             spacing: int = 1, leading: float = LEADING) -> list[ListingPage]:
    """Pages that fill the page body (less room for the section's heading on the first), `repeat`
    (column headings) at the top of each page, `spacing` blank lines between blocks (a block's own
    `space` where it sets one); a block whose heading and first lines do not fit starts on a new page."""
    pages: list[ListingPage] = []
    per_page = int(BODY_HEIGHT // leading)
    first_page = int((BODY_HEIGHT - FIRST_PAGE_ALLOWANCE * LEADING) // leading)

    def new_page() -> ListingPage:
        page = ListingPage(f"{name}-page-{len(pages) + 1}", list(repeat), leading=leading)
        pages.append(page)
        return page

    def room(page: ListingPage) -> int:
        return (first_page if len(pages) == 1 else per_page) - len(page.lines)

    page = new_page()
    for block in blocks:
        head = [w for line in block.head for w in wrap(line)]
        body = [w for line in block.body for w in wrap(line)]
        gap = (spacing if block.space is None else block.space) if len(page.lines) > len(repeat) else 0
        if room(page) < gap + len(head) + min(len(body), KEEP_WITH_HEADING):
            page, gap = new_page(), 0
        page.lines.extend([Line("")] * gap)
        if block.anchor:
            page.anchors.append((block.anchor, len(page.lines)))
        for line in head + body:
            if room(page) <= 0:
                page = new_page()
            page.lines.append(line)
    return pages


def _pdf_string(text: str) -> bytes:
    """The text as a PDF string in the standard fonts' encoding (anything else as "?")."""
    raw = pdf_prose.encode(text)
    return b"(" + raw.replace(b"\\", b"\\\\").replace(b"(", b"\\(").replace(b")", b"\\)") + b")"


def content_stream(page: ListingPage, x: float, top: float) -> bytes:
    """PDF operators drawing the page's lines from (x, top) in PDF points (origin bottom left)."""
    baseline = top - FONT_SIZE * 0.8
    out = [b"BT", f"{page.leading} TL 1 0 0 1 {x:.2f} {baseline:.2f} Tm".encode()]
    font: str | None = None
    for line in page.lines:
        if line.spans:
            out.append(_prose(line))
            font = None
            continue
        wanted = "bold" if line.bold else "regular"
        if wanted != font:
            font = wanted
            out.append(f"/{FONTS[font]} {FONT_SIZE} Tf".encode())
        out.append(_pdf_string(line.text) + b" Tj T*")
    out.append(b"ET")
    return b"\n".join(out)


def _prose(line: Line) -> bytes:
    """A line of spans in Helvetica, each in its weight and colour; ink black again after it."""
    out = [f"{line.indent:.2f} 0 Td".encode()] if line.indent else []
    for span in line.spans:
        r, g, b = span.colour
        font = FONTS["sans-bold" if span.bold else "sans"]
        out.append(f"/{font} {pdf_prose.SIZE} Tf {r} {g} {b} rg ".encode() + _pdf_string(span.text) + b" Tj")
    if line.indent:
        out.append(f"{-line.indent:.2f} 0 Td".encode())
    out.append(b"0 0 0 rg T*")
    return b"\n".join(out)


MARGIN_INK = (0.357, 0.4, 0.459)
"""#5b6675, the muted ink of report.css."""
MARGIN_SIZE = 8.0


def margins(number: int, total: int, title: str | None, width: float, height: float) -> tuple[bytes, bytes]:
    """PDF operators for the page's running title (top left, from the second page on) and for "Page N
    of M" (bottom centre), where print.css's margin boxes would put them: WeasyPrint laid each out twice
    a page, a second or more of a long report's time. The caller checks the title encodes
    (pdf_prose.encode). The title is drawn before the page's content and the number after it, so that
    text is read back in that order."""
    footer = f"Page {number} of {total}"
    head = b"q " + _muted(39.69, height - 28.3, title) + b" Q" if title and number > 1 else b""
    return head, _muted((width - pdf_prose.width(footer, size=MARGIN_SIZE)) / 2, 19.8, footer)


def _muted(x: float, y: float, text: str) -> bytes:
    r, g, b = MARGIN_INK
    return (f"BT /{FONTS['sans']} {MARGIN_SIZE} Tf {r} {g} {b} rg 1 0 0 1 {x:.2f} {y:.2f} Tm ".encode()
            + _pdf_string(text) + b" Tj ET")


def finisher(listing_pages: Sequence[ListingPage], title: str | None = None):
    """A WeasyPrint finisher: draws each ListingPage into the PDF page WeasyPrint reserved for it, found by
    the anchor named after the page's id (its position is where the first line goes), and every page's
    running title and page number (see `margins`)."""
    wanted = {p.id: p for p in listing_pages}

    def finish(document: Any, pdf: Any) -> None:
        import pydyf

        fonts = {}
        for key, base in BASE_FONTS.items():
            font = pydyf.Dictionary({"Type": "/Font", "Subtype": "/Type1", "BaseFont": base,
                                     "Encoding": "/WinAnsiEncoding"})
            pdf.add_object(font)
            fonts[FONTS[key]] = font.reference
        save = pydyf.Stream([b"q"])
        pdf.add_object(save)
        numbers = pdf.pages["Kids"][::3]
        total = len(document.pages)
        for n, (number, page) in enumerate(zip(numbers, document.pages, strict=True), 1):
            pdf_page = pdf.objects[number]
            height_pt = page.height * 0.75
            head, foot = margins(n, total, title, page.width * 0.75, height_pt)
            streams = [content_stream(wanted[a], x * 0.75, height_pt - y * 0.75)
                       for a, (x, y, *_) in page.anchors.items() if a in wanted]
            drawn = _stream(pdf, b"Q\n" + b"\n".join([*streams, foot]))
            contents = [save.reference, pdf_page["Contents"], drawn.reference]
            if head:
                contents.insert(0, _stream(pdf, head).reference)
            pdf_page["Contents"] = pydyf.Array(contents)
            _add_fonts(pdf, pdf_page["Resources"], fonts)

    return finish


def _stream(pdf: Any, operators: bytes) -> Any:
    import pydyf

    stream = pydyf.Stream([zlib.compress(operators)], pydyf.Dictionary({"Filter": "/FlateDecode"}))
    pdf.add_object(stream)
    return stream


def _add_fonts(pdf: Any, resources_ref: bytes, fonts: dict[str, bytes]) -> None:
    """Add our fonts to the page's font dictionary (WeasyPrint shares one among all pages)."""
    import pydyf

    resources = _deref(pdf, resources_ref)
    if resources.get("Font") is None:
        resources["Font"] = pydyf.Dictionary()
    _deref(pdf, resources["Font"]).update(fonts)


def _deref(pdf: Any, value: Any) -> Any:
    """The object a reference (b"12 0 R") points at; anything else as it is."""
    if isinstance(value, bytes) and value.endswith(b" R"):
        return pdf.objects[int(value.split()[0])]
    return value
