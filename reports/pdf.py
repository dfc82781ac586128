"""The report as PDF: WeasyPrint renders the same HTML with the print stylesheet."""

from __future__ import annotations

import logging

from weasyprint import HTML

from reports.attestations import Attestation
from reports.html import render_html
from reports.view import ScanView


def render_pdf(view: ScanView, *, organisation: str | None = None,
               attestations: list[Attestation] | None = None, signer_fingerprint: str | None = None,
               preparer: str | None = None) -> bytes:
    """Title, author (the preparer), subject and creation date come from the HTML's <title> and <meta>."""
    html = render_html(view, organisation=organisation, attestations=attestations, pdf=True,
                       signer_fingerprint=signer_fingerprint, preparer=preparer)
    logging.getLogger("fontTools").setLevel(logging.WARNING)
    return HTML(string=html).write_pdf()
