"""Renderers: pure functions from a stored scan to files, and the one entry point the scan command calls."""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Callable, Collection
from dataclasses import replace
from pathlib import Path

from compliance import evidence, keys
from compliance.errors import UsageError
from compliance.scan import RequirementResult, Scan
from compliance.store import Store

FORMATS = ("ocsf", "csv", "sarif", "junit", "html", "pdf", "evidence")
FILE_NAMES = {"ocsf": "findings.ocsf.json", "csv": "findings.csv", "sarif": "results.sarif",
              "junit": "junit.xml", "html": "report.html", "pdf": "report.pdf", "evidence": "evidence.zip"}
REQUIREMENT_RESULTS = "requirement-results.json"
REQUIREMENT_RESULTS_CSV = "requirement-results.csv"


def parse_formats(text: str) -> list[str]:
    """'ocsf,html' -> ['ocsf', 'html', 'evidence']: html and pdf imply the pack; 'all' is every format."""
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if not names:
        raise UsageError("no report format given: expected a comma-separated list of " + ", ".join(FORMATS))
    if "all" in names:
        return list(FORMATS)
    if unknown := [n for n in names if n not in FORMATS]:
        raise UsageError(f"unknown report format {unknown[0]!r}: expected {', '.join(FORMATS)} or all")
    if {"html", "pdf"} & set(names):
        names.append("evidence")
    return list(dict.fromkeys(names))


def _renderers() -> dict[str, Callable[..., bytes]]:
    from reports.html import render_html
    from reports.ocsf import to_ocsf
    from reports.pdf import render_pdf
    from reports.tabular import to_csv, to_junit, to_sarif

    return {
        "ocsf": lambda view, **_: _json_bytes(to_ocsf(view)),
        "csv": lambda view, **_: to_csv(view).encode(),
        "sarif": lambda view, **_: to_sarif(view).encode(),
        "junit": lambda view, **_: to_junit(view),
        "html": lambda view, **kw: render_html(view, **kw).encode(),
        "pdf": lambda view, **kw: render_pdf(view, **kw),
    }


def write_reports(scan: Scan, formats: Collection[str], out_dir: Path, *, signing_key: Path | None = None,
                  organisation: str | None = None, store: Store | None = None,
                  preparer: str | None = None, extra_files: dict[str, bytes] | None = None) -> list[Path]:
    """Render every requested format into out_dir; returns the written paths, the evidence pack last.
    extra_files (pack path -> bytes), such as the Statement of Applicability, go into the pack too."""
    from reports.attestations import attached_files, load_attestations
    from reports.view import ScanView

    wanted = parse_formats(",".join(formats))
    key = keys.signer(signing_key) if "evidence" in wanted else None
    fingerprint = keys.fingerprint(key.public_key()) if key is not None else None
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create output directory {out_dir}: {exc.strerror}") from None
    view = ScanView(scan)
    attestations = load_attestations(store, scan)
    renderers = _renderers()
    rendered: dict[str, bytes] = {}
    written: list[Path] = []
    for fmt in wanted:
        if fmt == "evidence":
            continue
        extra = ({"organisation": organisation or scan.organisation, "attestations": attestations,
                  "signer_fingerprint": fingerprint, "preparer": preparer or scan.preparer}
                 if fmt in ("html", "pdf") else {})
        shown = _with_responses(scan, fmt) if fmt in ("html", "pdf") else None
        rendered[fmt] = renderers[fmt](view if shown is None else ScanView(shown), **extra)
        path = out_dir / FILE_NAMES[fmt]
        path.write_bytes(rendered[fmt])
        written.append(path)
        if fmt == "csv":
            path = out_dir / REQUIREMENT_RESULTS_CSV
            path.write_bytes(requirement_results_csv(scan))
            written.append(path)
    if key is not None:
        if "ocsf" not in rendered:
            rendered["ocsf"] = renderers["ocsf"](view)
        with tempfile.TemporaryDirectory(prefix="comply-pack-") as spool:
            files = pack_files(scan, rendered, attached_files(store, attestations), Path(spool)) | dict(
                extra_files or {})
            written.append(evidence.write_pack(out_dir / FILE_NAMES["evidence"], scan, files, key))
    return written


def _with_responses(scan: Scan, fmt: str) -> Scan | None:
    """For a scan whose evidence is an index streamed from its store: the same scan with the responses
    the report shows (the html's first records; the PDF shows every one, so it holds them all)."""
    if scan.evidence_source is None:
        return None
    from reports.html import EVIDENCE_LIMIT

    wanted = {rec.id for rec in scan.evidence[:EVIDENCE_LIMIT]} if fmt == "html" else None
    full = {rec.id: rec for rec in scan.full_evidence() if wanted is None or rec.id in wanted}
    return replace(scan, evidence=[full.get(rec.id, rec) for rec in scan.evidence])


def requirement_result_dict(r: RequirementResult) -> dict:
    """One requirement result as requirement-results.json holds it: the ROC word with its basis."""
    return {"framework": r.framework, "requirement_id": r.requirement_id, "result": r.result.value,
            "basis": r.basis.value, "detail": r.detail, "check_ids": list(r.check_ids),
            "compensating": list(r.compensating), "waived": list(r.waived),
            "attestation_ids": list(r.attestation_ids), "decision_ids": list(r.decision_ids)}


def requirement_results_csv(scan: Scan) -> bytes:
    from reports.tabular import requirements_csv

    return requirements_csv(scan).encode()


def _json_bytes(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode()


_UNSAFE = re.compile(r"[^A-Za-z0-9._@=+-]+")


def _safe(name: str) -> str:
    return _UNSAFE.sub("_", name).strip("._") or "unnamed"


def pack_files(scan: Scan, rendered: dict[str, bytes], attachments: dict[str, tuple[str, bytes]],
               spool: Path) -> dict[str, bytes | Path]:
    """Every file of the evidence pack except the manifest and its signature. The raw records are
    written one at a time into files under `spool` (named in the pack as the evidence index names
    them), so the pack is built from disk, never from all the records held at once."""
    files: dict[str, bytes | Path] = {FILE_NAMES[fmt]: data for fmt, data in rendered.items()}
    names: list[str] = []
    used = set(files)
    for rec in scan.evidence:
        name = f"raw/{_safe(rec.id)}.json"
        while name in used:
            name = name.removesuffix(".json") + "_.json"
        names.append(name)
        used.add(name)
    if scan.evidence_source is None:
        pairs = zip(names, scan.evidence, strict=True)
    else:
        by_id = dict(zip((rec.id for rec in scan.evidence), names, strict=True))
        pairs = ((by_id[rec.id], rec) for rec in scan.full_evidence())
    for n, (name, rec) in enumerate(pairs):
        path = spool / f"{n}.json"
        path.write_bytes(_json_bytes(rec.as_dict()))
        files[name] = path
    results = [requirement_result_dict(r) for r in scan.requirement_results]
    waivers = [w.__dict__ | {"matched": list(w.matched)} for w in scan.waivers]
    files[REQUIREMENT_RESULTS] = _json_bytes({"scan_id": scan.id, "requirement_results": results,
                                              "waivers": waivers})
    files[REQUIREMENT_RESULTS_CSV] = requirement_results_csv(scan)
    for key, (name, content) in attachments.items():
        files[f"attestations/{_safe(key.split('/', 1)[0])}/{_safe(name)}"] = content
    return files
