"""The assessor's report as one self-contained HTML file (inline CSS, SVG and script), and the context the
PDF shares.

Shaped like a Report on Compliance: front matter (entity, preparer, period, scope, versions, caller, the
evidence pack's signer and how to verify it), a summary, then per requirement in ROC order a workpaper
(reports.workpapers), the population of every check, the evidence index and the compensating-control
worksheets. The summary of failing checks shows at most `detail_limit` resources each (5 in the PDF);
the populations list every resource.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from compliance.findings import Finding, Status
from compliance.scan import RequirementResult, RocResult
from reports import pdf_prose
from reports import workpapers as wp
from reports.attestations import Attestation, load_attestations
from reports.pdf_listing import ListingPage, paginate
from reports.view import (
    ScanView,
    check_meta,
    framework_label,
    principal_of,
    principal_title,
    requirement_sort_key,
    requirement_title,
)

ROC_ORDER = (RocResult.IN_PLACE, RocResult.NOT_IN_PLACE, RocResult.NOT_APPLICABLE, RocResult.NOT_TESTED)
ROC_CLASS = {RocResult.IN_PLACE: "inplace", RocResult.NOT_IN_PLACE: "notinplace",
             RocResult.NOT_APPLICABLE: "na", RocResult.NOT_TESTED: "nottested"}
ROC_FILL = {RocResult.IN_PLACE: "#2e7d32", RocResult.NOT_IN_PLACE: "#c62828",
            RocResult.NOT_APPLICABLE: "#9e9e9e", RocResult.NOT_TESTED: "#f9a825"}
"""Chart colours as SVG attributes: WeasyPrint does not apply the page's CSS inside inline SVG."""
EXPIRY_WARNING_DAYS = 30
HTML_DETAIL_LIMIT = 200
PDF_DETAIL_LIMIT = 5
EVIDENCE_LIMIT = 2000

_env = Environment(loader=PackageLoader("reports", "templates"), autoescape=True, undefined=StrictUndefined,
                   trim_blocks=True, lstrip_blocks=True)


@dataclass(frozen=True)
class FailingCheck:
    """A check with unwaived failures: the first `shown` resources and how many more there are."""

    check_id: str
    anchor: str
    title: str
    severity: str
    remediation: str
    refs: tuple[str, ...]
    count: int
    shown: list[Finding]
    hidden: int


@dataclass(frozen=True)
class FailingRequirement:
    anchor: str
    ref: str
    title: str
    checks: list[FailingCheck]


def anchor(framework_id: str, requirement_id: str) -> str:
    return f"req-{framework_id}-{requirement_id}"


def _parse_time(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _failing(view: ScanView) -> dict[str, list[Finding]]:
    out: dict[str, list[Finding]] = defaultdict(list)
    for f in view.scan.findings:
        if f.status is Status.FAIL and f.suppressed_by is None:
            out[f.check_id].append(f)
    return out


def failing_checks(view: ScanView, limit: int) -> dict[str, FailingCheck]:
    """Each failing check once, most severe first, with at most `limit` of its resources."""
    out = {}
    for check_id, findings in sorted(_failing(view).items(), key=lambda kv: (-kv[1][0].severity, kv[0])):
        meta = check_meta(check_id)
        ordered = sorted(findings, key=lambda f: f.resource_id)
        out[check_id] = FailingCheck(check_id, f"check-{check_id}", meta.title, findings[0].severity.label,
                                     meta.remediation, view.refs(check_id), len(ordered), ordered[:limit],
                                     max(0, len(ordered) - limit))
    return out


def failing_requirements(view: ScanView, checks: dict[str, FailingCheck]) -> list[FailingRequirement]:
    """Requirements with failing checks, in catalog order; failing checks no requirement names come last."""
    groups, covered = [], set()
    for r in view.results:
        failing = [checks[c] for c in view.checks_of(r) if c in checks]
        if failing:
            covered.update(c.check_id for c in failing)
            groups.append(FailingRequirement(anchor(r.framework, r.requirement_id),
                                             f"{framework_label(r.framework)} {r.requirement_id}",
                                             requirement_title(r.framework, r.requirement_id), failing))
    if rest := [c for c in checks.values() if c.check_id not in covered]:
        groups.append(FailingRequirement("req-unmapped", "Not mapped to a requirement", "", rest))
    return groups


def chart(view: ScanView, framework_id: str) -> dict[str, Any]:
    """Stacked bars of ROC results per principal requirement, as geometry for the inline SVG."""
    counts: dict[str, dict[RocResult, int]] = defaultdict(lambda: dict.fromkeys(ROC_ORDER, 0))
    for r in view.results:
        if r.framework == framework_id:
            counts[principal_of(framework_id, r.requirement_id)][r.result] += 1
    principals = sorted(counts, key=requirement_sort_key)
    widest = max((sum(c.values()) for c in counts.values()), default=1) or 1
    label_w, bar_w, row_h = 70, 420, 20
    rows = []
    for i, p in enumerate(principals):
        x, segments = label_w, []
        for roc in ROC_ORDER:
            n = counts[p][roc]
            if n:
                w = n * bar_w / widest
                segments.append({"x": round(x, 1), "w": round(w, 1), "cls": ROC_CLASS[roc],
                                 "fill": ROC_FILL[roc], "n": n, "label": roc.value})
                x += w
        rows.append({"label": p, "title": principal_title(framework_id, p), "y": i * row_h,
                     "segments": segments, "total": sum(counts[p].values()), "end": round(x + 4, 1)})
    return {"rows": rows, "height": max(1, len(rows)) * row_h + 4, "width": label_w + bar_w + 50,
            "row_h": row_h}


def _requirement_row(view: ScanView, r: RequirementResult, failing: dict[str, list[Finding]]) -> dict:
    checks = view.checks_of(r)
    findings = [f for c in checks for f in view.findings_by_check.get(c, ())]
    return {
        "anchor": anchor(r.framework, r.requirement_id), "id": r.requirement_id,
        "title": requirement_title(r.framework, r.requirement_id), "result": r.result.value,
        "cls": ROC_CLASS[r.result], "detail": r.detail, "checks": checks,
        "failing": sum(len(failing.get(c, ())) for c in checks), "findings": len(findings),
        "evidence": len({e for f in findings for e in f.evidence_ids}),
        "compensating": list(r.compensating), "attestations": list(r.attestation_ids),
        "basis": r.basis.value, "waived": list(r.waived),
    }


def _waivers(view: ScanView) -> list[dict]:
    now = _parse_time(view.scan.started_at) or dt.datetime.now(dt.UTC)
    out = []
    for w in view.scan.waivers:
        expires = _parse_time(w.expires)
        days = (expires - now).days if expires else None
        expiring = days is not None and 0 <= days <= EXPIRY_WARNING_DAYS and w.state == "active"
        out.append({"w": w, "days_left": days, "expiring": expiring})
    return out


def _errors(view: ScanView, limit: int) -> list[dict]:
    by_check: dict[str, list[Finding]] = defaultdict(list)
    for f in view.by_status(Status.ERROR):
        by_check[f.check_id].append(f)
    return [{"check_id": c, "title": check_meta(c).title, "findings": fs[:limit], "hidden": len(fs) - limit}
            for c, fs in sorted(by_check.items())]


SCOPE_LABELS = {"account_id": "AWS account", "accounts": "AWS accounts", "regions": "Regions",
                "clusters": "Kubernetes clusters", "cluster": "Kubernetes cluster",
                "namespaces": "Namespaces",
                "manifests": "Manifests", "urls": "URLs", "url": "URL", "cde_tags": "CDE tags",
                "endpoint_url": "API endpoint", "excluded": "Excluded"}


def _text(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list | tuple | set):
        return ", ".join(map(str, value))
    return str(value)


def _excluded_lines(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [f"{k}={v}" for k, v in value.items()]
    if isinstance(value, list | tuple):
        return [str(v) for v in value]
    return [str(value)] if value else []


def scope_statement(scan_scope: dict[str, Any], scoped: Sequence[str] = (),
                    targets: Sequence[str] = ()) -> list[tuple[str, str | list[str]]]:
    """The scope as (label, value) lines, with what was excluded and why always stated: accounts and
    regions left out, checks the selection left out, and requirements scoped out by a recorded decision.
    `targets` names the parts of a scan of several targets (its scope is keyed by them)."""
    parts = [(f"{t}: ", scan_scope.get(t) or {}) for t in targets] if targets else [("", scan_scope)]
    rows: list[tuple[str, str | list[str]]] = []
    excluded: list[str] = []
    for prefix, scope in parts:
        rows.extend((prefix + SCOPE_LABELS.get(k, k.replace("_", " ").capitalize()), _text(v))
                    for k, v in scope.items() if v not in (None, "", [], {}) and k != "excluded")
        excluded.extend(prefix + line for line in _excluded_lines(scope.get("excluded")))
    excluded.extend(scoped)
    rows.append(("Excluded", excluded or
                 "nothing: every resource the scan could read in the listed scope was assessed"))
    return rows


def scoped_out(view: ScanView) -> list[str]:
    """Requirements a recorded scoping decision (`comply scope not-applicable`) takes out of scope."""
    return [f"{framework_label(r.framework)} {r.requirement_id}: {r.detail}" for r in view.results
            if str(getattr(r.basis, "value", r.basis)) == "scoped"]


def preparer_of(preparer: str | None, identity: dict[str, Any]) -> str:
    if preparer:
        return preparer
    who = identity.get("Arn") or identity.get("user") or identity.get("UserId")
    return f"prepared by comply, run as {who}" if who else "prepared by comply (caller not recorded)"


def build_context(view: ScanView, *, organisation: str | None, attestations: list[Attestation],
                  pdf: bool, signer_fingerprint: str | None = None,
                  preparer: str | None = None) -> dict[str, Any]:
    scan = view.scan
    organisation = organisation or scan.organisation
    limit = PDF_DETAIL_LIMIT if pdf else HTML_DETAIL_LIMIT
    failing = _failing(view)
    frameworks = [{"id": fid, "label": framework_label(fid), "counts": view.result_counts(fid),
                   "chart": chart(view, fid),
                   "rows": [_requirement_row(view, r, failing) for r in view.results if r.framework == fid]}
                  for fid in view.frameworks]
    checks = failing_checks(view, limit)
    index = wp.evidence_index(scan)
    refs = {e.record.id: e.ref for e in index}
    pops = wp.populations(view, refs)
    classes = {roc.value: ROC_CLASS[roc] for roc in ROC_ORDER}
    papers = wp.workpapers(view, pops, attestations, classes)
    shown = scan.evidence if pdf else scan.evidence[:EVIDENCE_LIMIT]
    running_title = (f"Compliance assessment: {organisation or '(organisation not configured)'} | "
                     f"{scan.target} {scan.scope.get('account_id') or ''} | scan {scan.id}")
    return {
        "pdf": pdf, "scan": scan, "organisation": organisation or "(organisation not configured)",
        "preparer": preparer_of(preparer, scan.identity), "signer_fingerprint": signer_fingerprint,
        "scope_statement": scope_statement(scan.scope, scoped_out(view),
                                           scan.target.split("+") if "+" in scan.target else ()),
        "roc_fill": {r.value: ROC_FILL[r] for r in ROC_ORDER},
        "workpapers": papers, "populations": list(pops.values()), "worksheets": wp.worksheets(view),
        "index": index[:len(shown)], "listing": wp.listing, "index_listing": wp.index_listing,
        "raw_json": _raw_json, "severities": sorted({f.severity.label for f in scan.findings}),
        "check_ids": sorted(view.findings_by_check),
        "generated_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "scope": {k: v for k, v in scan.scope.items() if v not in (None, "", [], {})},
        "identity": scan.identity, "counts": scan.counts(),
        "unwaived_failures": sum(map(len, failing.values())),
        "waived": sum(1 for f in scan.findings if f.suppressed_by), "frameworks": frameworks,
        "roc_order": [(roc.value, ROC_CLASS[roc]) for roc in ROC_ORDER],
        "failing_requirements": failing_requirements(view, checks), "failing_checks": list(checks.values()),
        "truncated": any(c.hidden for c in checks.values()),
        "detail_limit": limit, "waivers": _waivers(view), "attestations": attestations,
        "not_tested": [r for r in view.results if r.result is RocResult.NOT_TESTED],
        "errors": _errors(view, limit), "framework_label": framework_label,
        "evidence": shown, "evidence_hidden": len(scan.evidence) - len(shown),
        "evidence_anchor": {e.record.id: f"ev-{e.ref}" for e in index[:len(shown)]},
        "evidence_ref": refs,
        "listing_pages": _listing_pages(list(pops.values()), index, papers) if pdf else {},
        "running_title": running_title, "title_in_css": not _drawable(running_title),
    }


def _listing_pages(pops: list[wp.Population], index: list[wp.EvidenceEntry],
                   papers: dict[str, list[wp.Workpaper]]) -> dict[str, list[ListingPage]]:
    """The PDF's workpapers and long listings, paginated here and drawn by reports.pdf_listing's
    finisher."""
    return {"populations": paginate("populations", wp.population_blocks(pops)),
            "evidence": paginate("evidence", wp.index_blocks(index), repeat=wp.INDEX_HEADER, spacing=0),
            **{f"workpapers-{fid}": paginate(f"wp-{fid}", wp.workpaper_blocks(framework_papers),
                                             leading=pdf_prose.LEADING)
               for fid, framework_papers in papers.items()}}


def _drawable(text: str) -> bool:
    """Whether the PDF's finisher can draw the text in its standard fonts (else WeasyPrint lays it out)."""
    try:
        return text.encode("cp1252") == pdf_prose.encode(text)
    except UnicodeEncodeError:
        return False


def _raw_json(record: Any) -> str:
    import json

    return json.dumps(record.as_dict(), indent=2, sort_keys=True, ensure_ascii=False, default=str)


def render_context(context: dict[str, Any]) -> str:
    return _env.get_template("report.html.j2").render(context)


def render_html(view: ScanView, *, organisation: str | None = None,
                attestations: list[Attestation] | None = None, pdf: bool = False,
                signer_fingerprint: str | None = None, preparer: str | None = None) -> str:
    if attestations is None:
        attestations = load_attestations(None, view.scan)
    context = build_context(view, organisation=organisation, attestations=attestations, pdf=pdf,
                            signer_fingerprint=signer_fingerprint, preparer=preparer)
    return _env.get_template("report.html.j2").render(context)
