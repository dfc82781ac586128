"""The report as PDF: WeasyPrint renders the same HTML with the print stylesheet; the long listings
(populations, evidence index) are drawn into the pages it reserves for them (reports.pdf_listing)."""

from __future__ import annotations

import logging

from weasyprint import HTML

from reports.attestations import Attestation, load_attestations
from reports.html import build_context, render_context
from reports.pdf_listing import finisher
from reports.view import ScanView


def render_pdf(view: ScanView, *, organisation: str | None = None,
               attestations: list[Attestation] | None = None, signer_fingerprint: str | None = None,
               preparer: str | None = None) -> bytes:
    """Title, author (the preparer), subject and creation date come from the HTML's <title> and <meta>."""
    if attestations is None:
        attestations = load_attestations(None, view.scan)
    context = build_context(view, organisation=organisation, attestations=attestations, pdf=True,
                            signer_fingerprint=signer_fingerprint, preparer=preparer)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    pages = [p for listing in context["listing_pages"].values() for p in listing]
    title = None if context["title_in_css"] else context["running_title"]
    return HTML(string=render_context(context)).write_pdf(finisher=finisher(pages, title))
