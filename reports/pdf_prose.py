"""Proportional text for the PDF's workpapers, broken into lines here and drawn by reports.pdf_listing.

The workpapers are a paragraph or two for each of some 400 requirements whatever the scan's size, and
WeasyPrint's text layout of them was most of a demo scan's PDF time (5 of 7 s). They need nothing a
layout engine gives: a few styles on lines of one width. So they are broken into lines with the metrics
of the PDF's standard Helvetica (reports.pdf_metrics) and drawn into reserved pages like the listings.
Characters outside Windows-1252 are drawn as "?", as in the listings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from reports.pdf_metrics import BOLD, REGULAR

SIZE = 8.2
"""Points."""
LEADING = 10.8
WIDTH = 756.0
"""Points: A4 landscape (842 pt) less the 14 mm margins, less a safety band."""
INDENT = 14.0
"""Points by which a paragraph's continuation lines are indented."""
INK = (0.11, 0.14, 0.19)
RESULT_COLOURS = {"inplace": (0.106, 0.369, 0.125), "notinplace": (0.718, 0.11, 0.11),
                  "na": (0.38, 0.38, 0.38), "nottested": (0.553, 0.431, 0.0)}
"""The ROC results' colours of report.css (.roc.inplace ...)."""
_TOKEN = re.compile(r"\S+\s*|\s+")


@dataclass(frozen=True)
class Span:
    text: str
    bold: bool = False
    colour: tuple[float, float, float] = INK


def encode(text: str) -> bytes:
    """The text in the fonts' encoding, anything it lacks as "?"."""
    raw = text.encode("cp1252", errors="replace")
    return bytes(b if b >= 32 and REGULAR[b - 32] else 63 for b in raw)


def width(text: str, bold: bool = False, size: float = SIZE) -> float:
    table = BOLD if bold else REGULAR
    return sum(table[b - 32] for b in encode(text)) * size / 1000


def _style(span: Span) -> tuple[bool, tuple[float, float, float]]:
    return span.bold, span.colour


def wrap(spans: Sequence[Span], limit: float = WIDTH,
         indent: float = INDENT) -> list[tuple[float, list[Span]]]:
    """(indent, spans) lines no wider than `limit` points, broken after spaces (inside a word only when
    the word alone is wider than a line); continuation lines start `indent` points in."""
    lines: list[tuple[float, list[Span]]] = [(0.0, [])]
    used = 0.0

    def add(text: str, like: Span) -> None:
        nonlocal used
        spans_ = lines[-1][1]
        if spans_ and _style(spans_[-1]) == _style(like):
            spans_[-1] = Span(spans_[-1].text + text, like.bold, like.colour)
        else:
            spans_.append(Span(text, like.bold, like.colour))
        used += width(text, like.bold)

    def new_line() -> float:
        nonlocal used
        lines.append((indent, []))
        used = 0.0
        return limit - indent

    room = limit
    for span in spans:
        for token in _TOKEN.findall(span.text):
            word, trail = token.rstrip(), token[len(token.rstrip()):]
            if not word:
                if lines[-1][1]:
                    add(trail, span)
                continue
            if lines[-1][1] and used + width(word, span.bold) > room:
                room = new_line()
            while width(word, span.bold) > room:
                cut = _fit(word, span.bold, room)
                add(word[:cut], span)
                word = word[cut:]
                room = new_line()
            add(word + trail, span)
    out = []
    for at, line in lines:
        while line and not line[-1].text.strip():
            line.pop()
        if line:
            line[-1] = Span(line[-1].text.rstrip(), line[-1].bold, line[-1].colour)
            out.append((at, line))
    return out


def _fit(word: str, bold: bool, room: float) -> int:
    """How many of the word's characters fit in `room` points (at least one)."""
    used = 0.0
    for n, char in enumerate(word):
        used += width(char, bold)
        if used > room:
            return max(n, 1)
    return len(word)


def paragraph(*parts: Span | str | None) -> list[Span]:
    """Spans from parts, a plain string as regular ink; None parts are left out."""
    return [Span(p) if isinstance(p, str) else p for p in parts if p is not None and p != ""]
