"""The Statement of Applicability as soa.csv, soa.html and soa.pdf (rows from compliance.soa)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging

from jinja2 import Environment, PackageLoader, StrictUndefined

from compliance.scan import Scan
from compliance.soa import Decisions, SoaRow
from reports.tabular import CSV_BOM, _cell

SOA_FILES = ("soa.csv", "soa.html", "soa.pdf")
CSV_COLUMNS = ("control_id", "title_paraphrased", "applicable", "justification", "implementation_status",
               "scan_result", "basis", "evidence", "soa_version", "approved_by", "approved_on", "scan_id")

_env = Environment(loader=PackageLoader("reports", "templates"), autoescape=True, undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)


def soa_csv(rows: list[SoaRow], decisions: Decisions, scan: Scan) -> str:
    """UTF-8 with BOM and CRLF, formula injection guarded, like findings.csv."""
    out = io.StringIO()
    out.write(CSV_BOM)
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow([_cell(str(v)) for v in (
            r.control_id, r.title, "yes" if r.applicable else "no", r.justification, r.status, r.result,
            r.basis, "; ".join(r.evidence), decisions.version, decisions.approver, decisions.approved_on,
            scan.id)])
    return out.getvalue()


def soa_html(rows: list[SoaRow], decisions: Decisions, scan: Scan, *, organisation: str | None,
             pdf: bool = False) -> str:
    counts: dict[str, int] = {}
    for r in rows:
        counts[r.status] = counts.get(r.status, 0) + 1
    return _env.get_template("soa.html.j2").render(
        rows=rows, decisions=decisions, scan=scan, pdf=pdf, counts=counts,
        organisation=organisation or scan.organisation or "(organisation not configured)",
        applicable=sum(1 for r in rows if r.applicable),
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))


def soa_pdf(rows: list[SoaRow], decisions: Decisions, scan: Scan, *, organisation: str | None) -> bytes:
    from weasyprint import HTML

    logging.getLogger("fontTools").setLevel(logging.WARNING)
    return HTML(string=soa_html(rows, decisions, scan, organisation=organisation, pdf=True)).write_pdf()


def render_soa(rows: list[SoaRow], decisions: Decisions, scan: Scan,
               organisation: str | None) -> dict[str, bytes]:
    """File name -> bytes for the three SoA files."""
    return {"soa.csv": soa_csv(rows, decisions, scan).encode("utf-8"),
            "soa.html": soa_html(rows, decisions, scan, organisation=organisation).encode("utf-8"),
            "soa.pdf": soa_pdf(rows, decisions, scan, organisation=organisation)}
