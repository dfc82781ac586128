"""The PDF's long listings: pagination, wrapping and the text drawn into the pages WeasyPrint reserves."""

from __future__ import annotations

import io

import pypdf
from weasyprint import HTML

from reports.pdf_listing import (
    CHARS_PER_LINE,
    FIRST_PAGE_ALLOWANCE,
    INDENT,
    LEADING,
    LINES_PER_PAGE,
    Block,
    Line,
    content_stream,
    finisher,
    paginate,
    wrap,
)


def test_long_lines_wrap_with_an_indent():
    lines = wrap(Line("x" * (CHARS_PER_LINE + 10)))
    assert [len(line.text) for line in lines] == [CHARS_PER_LINE, len(INDENT) + 10]
    assert lines[1].text.startswith(INDENT)


def test_pages_fill_up_and_a_heading_keeps_its_first_lines():
    blocks = [Block([Line(f"P{n}", bold=True)], [Line(f"row {n}.{i}") for i in range(20)], anchor=f"pop-{n}")
              for n in range(1, 8)]
    pages = paginate("pop", blocks)
    assert len(pages[0].lines) <= LINES_PER_PAGE - FIRST_PAGE_ALLOWANCE
    assert all(len(p.lines) <= LINES_PER_PAGE for p in pages)
    drawn = [line.text for p in pages for line in p.lines if line.text]
    assert len(drawn) == 7 * 21
    for page in pages:
        for anchor, at in page.anchors:
            assert page.lines[at].text == "P" + anchor.removeprefix("pop-")
            assert len(page.lines) - at >= 4, "a heading left at the foot of a page"
    assert pages[0].height == round(len(pages[0].lines) * LEADING, 2)


def test_repeated_header_heads_every_page():
    header = (Line("Ref  Record", bold=True),)
    pages = paginate("ev", [Block((), [Line(f"E{i}")]) for i in range(150)], repeat=header, spacing=0)
    assert len(pages) > 2 and all(p.lines[0] == header[0] for p in pages)


def test_text_is_escaped_and_unencodable_characters_become_question_marks():
    stream = content_stream(paginate("x", [Block((), [Line("a (b) \\ c \u2192 d")])])[0], 40, 500)
    assert b"(a \\(b\\) \\\\ c ? d) Tj" in stream


def test_reserved_pages_carry_the_drawn_lines_and_anchors():
    pages = paginate("pop", [Block([Line("P1: check", bold=True)], [Line("PASS  arn:aws:s3:::one  E1")],
                                   anchor="pop-1")])
    page = pages[0]
    html = ('<style>@page { size: A4 landscape; margin: 18mm 14mm }</style><p><a href="#pop-1">to P1</a></p>'
            f'<div id="{page.id}" style="position: relative; height: {page.height}pt; break-before: page">'
            f'<span id="pop-1" style="position: absolute; top: 0"></span></div>')
    data = HTML(string=html).write_pdf(finisher=finisher(pages))
    reader = pypdf.PdfReader(io.BytesIO(data))
    assert "PASS  arn:aws:s3:::one  E1" in reader.pages[1].extract_text()
    assert "P1: check" in reader.pages[1].extract_text()
    assert "pop-1" in reader.named_destinations
