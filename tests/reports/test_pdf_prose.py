"""The workpapers' proportional text: line breaking by Helvetica's metrics and the text drawn in the PDF."""

from __future__ import annotations

import io
import re

import pypdf
import pytest
from weasyprint import HTML

from reports import pdf_prose
from reports.pdf_listing import Block, Line, content_stream, finisher, paginate
from reports.pdf_prose import INDENT, RESULT_COLOURS, SIZE, WIDTH, Span, encode, width, wrap

WORDS = "assessed every bucket in eu-west-1 and found the default encryption missing on one of them "


def plain(spans: list[Span]) -> str:
    return "".join(s.text for s in spans)


def _widest(lines: list[tuple[float, list[Span]]]) -> float:
    return max(at + sum(width(s.text, s.bold) for s in spans) for at, spans in lines)


def test_widths_are_helveticas():
    assert width("Page 1") == pytest.approx((667 + 556 + 556 + 556 + 278 + 556) * SIZE / 1000)
    assert width("a", bold=True) == width("a") and width("b", bold=True) > width("b") > width("i")


def test_paragraphs_break_between_words_within_the_width_and_keep_every_word():
    spans = [Span("3.5.1 ", bold=True), Span(WORDS * 12),
             Span("Not in Place", True, RESULT_COLOURS["notinplace"]), Span(" " + WORDS * 3)]
    lines = wrap(spans)
    assert len(lines) > 3 and _widest(lines) <= WIDTH
    assert [at for at, _ in lines] == [0.0] + [INDENT] * (len(lines) - 1)
    assert " ".join(plain(s) for _, s in lines).split() == "".join(s.text for s in spans).split()
    assert not any(plain(s).startswith(" ") or plain(s).endswith(" ") for _, s in lines)
    coloured = [s for _, line in lines for s in line if s.colour == RESULT_COLOURS["notinplace"]]
    assert [s.text for s in coloured] == ["Not in Place"] and coloured[0].bold


def test_a_word_longer_than_a_line_is_cut_to_fit():
    arn = "arn:aws:s3:::" + "b" * 600
    lines = wrap([Span("Resource "), Span(arn)])
    assert _widest(lines) <= WIDTH and len(lines) >= 3
    assert plain(lines[0][1]) == "Resource"
    assert "".join(plain(s) for _, s in lines[1:]) == arn


def test_characters_outside_the_fonts_encoding_are_question_marks():
    assert encode("café ✓ \x07") == b"caf\xe9 ? ?"
    assert width("✓") == width("?")


def test_prose_lines_are_drawn_in_helvetica_with_their_weight_and_colour():
    spans = (Span("1.2.3", True), Span(" (x) "), Span("In Place", True, RESULT_COLOURS["inplace"]))
    line = Line("", spans=spans, indent=INDENT)
    stream = content_stream(paginate("wp", [Block((), [line])], leading=pdf_prose.LEADING)[0], 40, 500)
    assert b"/CmplSansB 8.2 Tf" in stream and b"(1.2.3) Tj" in stream and b"( \\(x\\) ) Tj" in stream
    assert f"{INDENT:.2f} 0 Td".encode() in stream and b"0.106 0.369 0.125 rg" in stream


def test_a_workpaper_reads_back_from_the_pdf():
    lines = [Line("", spans=tuple(s), indent=at)
             for at, s in wrap([Span("10.2.1 ", True), Span("Audit logs enabled: "),
                                Span("Not in Place", True, RESULT_COLOURS["notinplace"]),
                                Span(" " + WORDS * 4)])]
    pages = paginate("wp", [Block((), lines, anchor="wp-10.2.1")], leading=pdf_prose.LEADING)
    page = pages[0]
    html = ('<style>@page { size: A4 landscape; margin: 18mm 14mm }</style><p><a href="#wp-10.2.1">go</a></p>'
            f'<div id="{page.id}" style="position: relative; height: {page.height}pt; break-before: page">'
            f'<span id="wp-10.2.1" style="position: absolute; top: 0"></span></div>')
    reader = pypdf.PdfReader(io.BytesIO(HTML(string=html).write_pdf(finisher=finisher(pages))))
    text = re.sub(r"\s+", " ", reader.pages[1].extract_text())
    assert "10.2.1 Audit logs enabled: Not in Place assessed every bucket" in text
    assert "wp-10.2.1" in reader.named_destinations
