"""The assessor's report: every section in the HTML, self-contained, and the PDF read back as text."""

from __future__ import annotations

import io
import re
from html.parser import HTMLParser

import pypdf
import pytest

from compliance.findings import Finding, Severity, Status
from reports import write_reports
from reports.attestations import load_attestations
from reports.html import PDF_DETAIL_LIMIT, chart, render_html
from reports.pdf import render_pdf
from reports.view import ScanView
from tests.reports.conftest import BUCKET, make_scan

SECTIONS = ("cover", "verify", "summary", "results-pci-dss-4.0.1", "results-iso27001-2022",
            "workpapers-pci-dss-4.0.1", "workpapers-iso27001-2022", "failures", "failing-checks",
            "populations", "waivers", "worksheets", "attestations", "not-tested", "errors", "evidence")


class Page(HTMLParser):
    """The ids, links and external references of an HTML page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.external: list[str] = []
        self.tags: set[str] = set()
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)
        attrs = dict(attrs)
        if "id" in attrs:
            self.ids.add(attrs["id"])
        if tag == "a" and attrs.get("href"):
            self.links.append(attrs["href"])
        for name in ("src", "href"):
            value = attrs.get(name) or ""
            if value and not value.startswith("#"):
                self.external.append(value)


@pytest.fixture
def html(scan, store) -> str:
    return render_html(ScanView(scan), organisation="Acme Pay", attestations=load_attestations(store, scan))


def section(html: str, section_id: str) -> str:
    start = html.index(f'<section id="{section_id}"')
    return html[start:html.index("</section>", start)]


def test_every_section_present_and_self_contained(html):
    page = Page(html)
    assert set(SECTIONS) <= page.ids
    assert page.external == []
    assert "link" not in page.tags and "iframe" not in page.tags
    assert html.count("<script>") == 1 and "<script src" not in html
    assert "<svg" in html and "<style>" in html
    broken = [link for link in page.links if link.startswith("#") and link[1:] not in page.ids]
    assert broken == []


def test_cover_names_scope_identity_and_versions(html):
    cover = section(html, "cover")
    for text in ("Acme Pay", "PCI DSS v4.0.1", "ISO/IEC 27001:2022", "123456789012", "eu-west-1, us-east-1",
                 "arn:aws:iam::123456789012:user/auditor", "2026-01-10T09:00:00.000+00:00", "comply 0.1.0",
                 "catalog 2024.06"):
        assert text in cover, text


def test_requirement_table_in_roc_words_with_links(html):
    pci = section(html, "results-pci-dss-4.0.1")
    rows = re.findall(r'<tr id="req-pci-dss-4\.0\.1-([^"]+)-row" class="(\w+)"', pci)
    assert dict(rows) == {"3.5.1": "notinplace", "8.3.6": "nottested", "10.2.1": "inplace",
                          "12.1.1": "inplace", "A1.1.1": "na"}
    assert [r for r, _ in rows] == ["3.5.1", "8.3.6", "10.2.1", "12.1.1", "A1.1.1"]
    for word in ("In Place", "Not in Place", "Not Applicable", "Not Tested"):
        assert word in pci
    assert 'href="#req-pci-dss-4.0.1-3.5.1"' in pci
    assert 'href="#att-att00001"' in pci
    iso = section(html, "results-iso27001-2022")
    assert "Compensating: waiver: compensating log review" in iso


def test_failures_grouped_by_requirement_with_evidence_links(html, scan):
    failures = section(html, "failures")
    assert 'id="req-pci-dss-4.0.1-3.5.1"' in failures and 'id="req-iso27001-2022-A.8.24"' in failures
    assert failures.count('href="#check-aws.s3.bucket_encrypted"') == 2
    assert "1 resource(s)" in failures
    detail = section(html, "failing-checks")
    assert 'id="check-aws.s3.bucket_encrypted"' in detail
    assert detail.count(BUCKET) == 1
    assert "arn:aws:s3:::public-site" not in detail
    assert "bucket has no default encryption" in detail
    assert "PCI DSS v4.0.1/3.5.1" in detail
    assert 'href="#ev-E1"' in detail
    assert scan.evidence[0].id in section(html, "evidence")


def test_waivers_attestations_not_tested_and_errors(html):
    waivers = section(html, "waivers")
    assert "ciso@example.com" in waivers and "2026-01-25 (in 14 days)" in waivers
    assert "1 active waiver(s) expire within 30 days" in waivers
    assert 'class="expiring"' in waivers and "expired" in waivers
    attestations = section(html, "attestations")
    assert "minutes.pdf" in attestations and "policy reviewed by the board" in attestations
    not_tested = section(html, "not-tested")
    assert 'href="#req-pci-dss-4.0.1-8.3.6-row">8.3.6</a>' in not_tested
    assert 'href="#req-iso27001-2022-A.5.1-row">A.5.1</a>' in not_tested and "10.2.1" not in not_tested
    errors = section(html, "errors")
    assert "aws.iam.password_policy" in errors and "AccessDenied" in errors


def test_text_is_escaped():
    scan = make_scan()
    scan.findings[0] = Finding("aws.s3.bucket_encrypted", BUCKET, Status.FAIL, "<script>alert(1)</script>",
                               Severity.HIGH)
    html = render_html(ScanView(scan))
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)" in html
    assert "(organisation not configured)" in html
    assert "(not in the store)" in section(html, "attestations")


def test_pdf_detail_is_capped_and_says_where_the_rest_is():
    scan = make_scan()
    extra = PDF_DETAIL_LIMIT + 7
    scan.findings += [Finding("aws.s3.bucket_encrypted", f"arn:aws:s3:::bulk-{i:03}", Status.FAIL, "plain",
                              Severity.HIGH) for i in range(extra)]
    scan.findings += [Finding("aws.iam.password_policy", f"arn:aws:iam::1:user/u{i}", Status.ERROR, "denied",
                              Severity.MEDIUM) for i in range(extra)]
    html = render_html(ScanView(scan), pdf=True)
    assert f"{extra + 1} resource(s)" in section(html, "failures")
    detail = section(html, "failing-checks")
    assert detail.count("arn:aws:s3:::bulk-") == PDF_DETAIL_LIMIT
    assert "and 8 more resources failing this check: see findings.csv" in detail
    errors = section(html, "errors")
    assert errors.count("arn:aws:iam::1:user/u") == PDF_DETAIL_LIMIT - 1
    assert "and 8 more resources this check could not assess" in errors
    assert 'id="evidence"' in html and "evidence.zip, folder raw/" in html and "<script>" not in html
    assert "target-counter" in html and "string(report-title)" not in html  # the finisher draws the title


def test_a_title_the_standard_fonts_cannot_draw_is_laid_out_by_weasyprint(scan):
    """The running title is drawn in the PDF's standard fonts (Windows-1252); an organisation named in
    another script keeps it in a margin box, with WeasyPrint's fonts."""
    html = render_html(ScanView(scan), organisation="Тест Pay", pdf=True)
    assert "string(report-title)" in html
    reader = pypdf.PdfReader(io.BytesIO(render_pdf(ScanView(scan), organisation="Тест Pay")))
    assert "Compliance assessment: Тест Pay" in reader.pages[2].extract_text()
    assert "?" not in reader.pages[2].extract_text().splitlines()[0]


def test_chart_bars_scale_to_counts(scan):
    geometry = chart(ScanView(scan), "pci-dss-4.0.1")
    assert [r["label"] for r in geometry["rows"]] == ["3", "8", "10", "12", "A1"]
    assert all(r["total"] == 1 for r in geometry["rows"])
    assert {s["cls"] for r in geometry["rows"] for s in r["segments"]} == {"inplace", "notinplace", "na",
                                                                          "nottested"}


def test_pdf_reads_back_with_ids_results_and_page_numbers(scan, store):
    data = render_pdf(ScanView(scan), organisation="Acme Pay", attestations=load_attestations(store, scan))
    reader = pypdf.PdfReader(io.BytesIO(data))
    pages = [p.extract_text() for p in reader.pages]
    text = "\n".join(pages)
    total = len(pages)
    assert total >= 5
    for i, page in enumerate(pages, 1):
        assert f"Page {i} of {total}" in page
    assert "PCI DSS v4.0.1" in pages[0] and "Acme Pay" in pages[0]
    assert "Contents" in pages[1] and "Executive summary" in pages[1]
    assert re.search(r"Failing findings by requirement \.+ ?\d+", pages[1])
    for req in ("3.5.1", "8.3.6", "10.2.1", "A1.1.1", "A.8.24", "A.5.1"):
        assert req in text, req
    for word in ("In Place", "Not in Place", "Not Applicable", "Not Tested"):
        assert word in text
    assert "Compliance assessment: Acme Pay" in pages[2]


def test_write_reports_all_formats(tmp_path, scan, store):
    paths = write_reports(scan, ["html", "sarif", "junit"], tmp_path / "out", organisation="Acme Pay",
                          store=store)
    assert [p.name for p in paths] == ["report.html", "results.sarif", "junit.xml", "evidence.zip"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert not (tmp_path / "out" / "findings.ocsf.json").exists()
