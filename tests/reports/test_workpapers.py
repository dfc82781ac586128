"""The report as an assessor's workpaper: front matter, populations, evidence index, worksheets, layout.

The PDF is read back with pypdf and its pages rendered to images with poppler's pdftoppm (installed by
`make sysdeps`): no text may run past the page's margins and no page may end on a heading.
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pypdf
import pytest
from PIL import Image

from compliance.scan import Basis, RocResult
from compliance.store import Store
from reports import write_reports
from reports.attestations import load_attestations
from reports.html import ROC_FILL, render_html, scope_statement
from reports.pdf import render_pdf
from reports.view import ScanView
from reports.workpapers import evidence_index, pack_name, populations, worksheets
from tests.reports.conftest import ACCOUNT, BUCKET, TRAIL, make_scan

FINGERPRINT = "3f" * 32
PREPARER = "R. Auditor (QSA), Example Assurance"


@pytest.fixture(scope="module")
def pdf_bytes() -> bytes:
    scan = make_scan()
    return render_pdf(ScanView(scan), organisation="Acme Pay", signer_fingerprint=FINGERPRINT,
                      preparer=PREPARER)


@pytest.fixture(scope="module")
def pages(pdf_bytes) -> list[str]:
    return [p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf_bytes)).pages]


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_pdf_metadata_names_title_author_subject_and_date(pdf_bytes):
    meta = pypdf.PdfReader(io.BytesIO(pdf_bytes)).metadata
    assert meta.title == "Compliance assessment: Acme Pay (scan0001)"
    assert meta.author == PREPARER
    assert meta.subject.startswith("Report on compliance of Acme Pay against PCI DSS v4.0.1")
    assert meta.creation_date is not None


def test_cover_names_entity_preparer_period_scope_and_signer(pages):
    cover = flat(pages[0])
    for text in ("Acme Pay", PREPARER, ACCOUNT, "eu-west-1, us-east-1",
                 "2026-01-10T09:00:00.000+00:00 to 2026-01-10T09:00:05.500+00:00",
                 f"arn:aws:iam::{ACCOUNT}:user/auditor", "comply 0.1.0", FINGERPRINT,
                 "comply evidence verify evidence.zip --public-key signing-key.pub",
                 "paraphrases", "Excluded PCI DSS v4.0.1 A1.1.1: not a service provider"):
        assert text in cover, text


def test_table_of_contents_lists_every_section(pages):
    toc = pages[1]
    for title in ("Front matter", "Executive summary", "Requirement results and workpapers: PCI DSS v4.0.1",
                  "Requirement results and workpapers: ISO/IEC 27001:2022", "Failing findings by requirement",
                  "Populations: every resource assessed", "Waivers", "Compensating-control worksheets",
                  "Attestations", "Not Tested requirements", "Checks that could not assess",
                  "Evidence index"):
        assert re.search(re.escape(title) + r"[^\n]*?\.{5,} ?\d+", toc), title


def test_population_lists_passing_and_failing_resources_with_evidence(pages):
    text = "\n".join(pages)
    workpaper = flat(text[text.index("3.5.1 Stored card numbers"):])
    assert "Population: P4 (2 resources: 0 passing, 2 failing)" in workpaper
    assert "Evidence: E1" in workpaper
    populations_text = text[text.index("P1: aws.cloudtrail.enabled"):]
    assert re.search(r"PASS\s+" + re.escape(TRAIL) + r"\s+E2", populations_text)
    assert re.search(r"FAIL\s+" + re.escape(BUCKET) + r"\s+E1", populations_text)
    assert re.search(r"FAIL\*\s+arn:aws:s3:::public-site\s+E1", populations_text)
    assert "bucket has no default encryption" in populations_text


def test_evidence_index_and_worksheet_read_back(pages):
    scan = make_scan()
    text = "\n".join(pages)
    index = flat(text[text.rindex("Evidence index"):])
    for i, rec in enumerate(scan.evidence, 1):
        assert f"E{i} {rec.id}" in index and rec.sha256 in index
    assert "REQ-1" in index and "error AccessDenied" in index
    sheet = flat(text[text.index("Worksheet 1"):])
    for part in ("Constraints", "Objective", "Identified risk", "Definition of the compensating control",
                 "Validation", "Maintenance", "static public site, no CHD", "CloudFront only",
                 "ciso@example.com", "2026-01-25"):
        assert part in sheet, part


def test_no_page_ends_on_a_heading(pages):
    headings = {"Waivers", "Attestations", "Compensating-control worksheets", "Evidence index",
                "Populations: every resource assessed", "Not Tested requirements",
                "Checks that could not assess", "Failing findings by requirement"}
    for n, page in enumerate(pages, 1):
        body = [line.strip() for line in page.splitlines() if line.strip()]
        body = [line for line in body if not line.startswith(("Compliance assessment:", "Page "))]
        assert body and body[-1] not in headings, f"page {n} ends with the heading {body[-1]!r}"


def _pdftoppm() -> str:
    tool = shutil.which("pdftoppm")
    if tool is None:
        pytest.fail("pdftoppm not found: run `make sysdeps` (poppler-utils)")
    return tool


def test_pages_render_with_nothing_past_the_margins(pdf_bytes, tmp_path):
    """Rendered at 40 dpi, every page keeps a blank band at its left and right edges (inside the 14 mm
    margins) and a blank band between the running header and the body: nothing overflows or overlaps."""
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(pdf_bytes)
    subprocess.run([_pdftoppm(), "-r", "40", "-gray", "-png", str(pdf), str(tmp_path / "page")], check=True)
    images = sorted(tmp_path.glob("page-*.png"))
    assert len(images) == len(pypdf.PdfReader(io.BytesIO(pdf_bytes)).pages)
    for path in images:
        page = Image.open(path).convert("L")
        width, height = page.size
        mm = width / 297
        for box in ((0, 0, int(10 * mm), height), (width - int(10 * mm), 0, width, height)):
            assert page.crop(box).getextrema()[0] > 200, f"{path.name}: ink in the side margin"
        top = page.crop((0, 0, width, int(8 * mm)))
        assert top.getextrema()[0] > 200, f"{path.name}: ink above the running header"
    cover = Image.open(images[0]).convert("L")
    assert cover.getextrema()[0] < 100, "the cover has text"


class Legend(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__()
        self.keys: dict[str, str] = {}
        self.rects: dict[str, set[str]] = {}
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        cls = (a.get("class") or "").split()
        if tag == "span" and "key" in cls:
            self.keys[cls[1]] = a["data-fill"]
        if tag == "rect":
            self.rects.setdefault(cls[0], set()).add(a["fill"])


def test_legend_colours_match_the_chart(scan):
    legend = Legend(render_html(ScanView(scan), pdf=True))
    assert set(legend.keys) == {"inplace", "notinplace", "na", "nottested"}
    for cls, fills in legend.rects.items():
        assert fills == {legend.keys[cls]}, cls
    assert set(legend.keys.values()) == set(ROC_FILL.values())


def test_html_search_filter_sort_and_drill_down(scan, store):
    html = render_html(ScanView(scan), organisation="Acme Pay", attestations=load_attestations(store, scan))
    for control in ('id="q"', 'id="f-result"', 'id="f-severity"', 'id="f-framework"', 'id="f-check"',
                    'id="f-resource"'):
        assert control in html
    assert "table.sortable" in html and "addEventListener" in html
    assert f'data-resource="{BUCKET}"' in html and 'data-severity="High"' in html
    # requirement -> workpaper -> population -> finding -> evidence record -> raw API response
    assert 'href="#wp-pci-dss-4.0.1-10.2.1"' in html
    paper = html[html.index('id="wp-pci-dss-4.0.1-10.2.1"'):]
    assert 'href="#pop-1"' in paper[:3000]
    population = html[html.index('id="pop-1"'):]
    assert 'href="#ev-E2"' in population[:4000]
    record = html[html.index('id="ev-E2"'):]
    assert "<details>" in record[:800] and "trailList" in record[:3000]
    assert pack_name(scan.evidence[1].id) in record[:800]


def test_evidence_refs_resolve_to_pack_files(scan, tmp_path):
    index = evidence_index(scan)
    assert [e.ref for e in index] == ["E1", "E2", "E3"]
    write_reports(scan, ["evidence"], tmp_path)
    import zipfile

    names = set(zipfile.ZipFile(tmp_path / "evidence.zip").namelist())
    assert {e.pack_path for e in index} <= names
    pops = populations(ScanView(scan), {e.record.id: e.ref for e in index})
    assert [p.ref for p in pops.values()] == ["P1", "P2", "P3", "P4"]
    bucket = pops["aws.s3.bucket_encrypted"]
    assert bucket.counts == {"PASS": 0, "FAIL": 2, "ERROR": 0, "MANUAL": 0} and bucket.waived == 1


def test_worksheet_only_for_waivers_with_a_compensating_control(scan):
    sheets = worksheets(ScanView(scan))
    assert len(sheets) == 1
    sheet = sheets[0]
    assert sheet.definition == "CloudFront only"
    assert "PCI DSS v4.0.1/3.5.1" in sheet.requirements
    assert "1 resource matching arn:aws:s3:::public-site" in sheet.identified_risk


def test_scope_statement_always_says_what_was_excluded():
    assert scope_statement({"account_id": "1", "regions": ["a", "b"]}) == [
        ("AWS account", "1"), ("Regions", "a, b"),
        ("Excluded", "nothing: every resource the scan could read in the listed scope was assessed")]
    assert scope_statement({"urls": ["https://x"], "excluded": {"sandbox": "no card data"}})[-1] == (
        "Excluded", ["sandbox=no card data"])
    aws = {"account_id": "1", "excluded": ["regions x: not enabled in the account"]}
    several = scope_statement({"aws": aws, "web": {"urls": ["https://x"]}},
                              ["PCI DSS v4.0.1 9.4.1: scoped out"], targets=["aws", "web"])
    assert ("aws: AWS account", "1") in several and ("web: URLs", "https://x") in several
    assert several[-1] == ("Excluded", ["aws: regions x: not enabled in the account",
                                        "PCI DSS v4.0.1 9.4.1: scoped out"])


def test_cover_says_what_was_excluded_and_why():
    """Accounts, regions and checks left out (as the scan records them) and requirements scoped out by a
    recorded decision, read back from the PDF's cover."""
    scan = make_scan("excl0001")
    scan.scope["excluded"] = ["account 222233334444 (Sandbox): excluded with --exclude-accounts",
                              "regions ap-east-1, me-south-1: not enabled in the account",
                              "1 check (aws.iam.password_policy): excluded with --exclude-checks"]
    scoped = next(r for r in scan.requirement_results if r.framework == "pci-dss-4.0.1")
    scan.requirement_results = [replace(r, result=RocResult.NOT_APPLICABLE, basis=Basis.SCOPED,
                                        detail="scoped out by QSA on 2026-01-09: no card readers")
                                if r is scoped else r for r in scan.requirement_results]
    cover = flat(pypdf.PdfReader(io.BytesIO(render_pdf(ScanView(scan)))).pages[0].extract_text())
    for line in (*scan.scope["excluded"],
                 f"PCI DSS v4.0.1 {scoped.requirement_id}: scoped out by QSA on 2026-01-09: no card readers"):
        assert line in cover, line
    assert "Excluded nothing" not in cover


def test_organisation_is_stored_with_the_scan_and_named_on_the_cover(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    scan = make_scan("org00001")
    scan.organisation = "Stored Org Ltd"
    store.save_scan(scan)
    again = store.load_scan("org00001")
    assert again.organisation == "Stored Org Ltd"
    write_reports(again, ["html"], tmp_path / "out", store=store)
    assert "<h1>Stored Org Ltd</h1>" in (tmp_path / "out" / "report.html").read_text()


def test_a_10000_finding_scan_renders_with_its_whole_population():
    """The bench's scan (10,000 findings over 2,000 resources): every resource is in the PDF, passing and
    failing, and every evidence record is in the index. Speed is measured by `make bench`, not here."""
    from bench.bench_reports import FINDINGS, big_scan

    scan = big_scan()
    assert len(scan.findings) == FINDINGS
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(ScanView(scan), organisation="Big Ltd")))
    assert len(reader.pages) > 100
    assert "Big Ltd" in reader.pages[0].extract_text()
    last = flat(reader.pages[-1].extract_text())
    assert f"E{len(scan.evidence)} {scan.evidence[-1].id}" in last and scan.evidence[-1].sha256 in last
    toc = reader.pages[1].extract_text()
    first_population = int(re.search(r"Populations: every resource assessed \.+ ?(\d+)", toc).group(1)) - 1
    text = "".join(reader.pages[n].extract_text() for n in range(first_population, first_population + 8))
    assert re.search(r"FAIL\s+arn:aws:s3:::bucket-\d{5}\s+E\d+", text)
    assert re.search(r"PASS\s+arn:aws:s3:::bucket-\d{5}\s+E\d+", text)
