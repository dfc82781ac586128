"""The Statement of Applicability (ISO/IEC 27001:2022, clause 6.1.3 d): one row per Annex A control.

Applicability and its justification are the organisation's decisions, kept in a YAML file it edits
(`comply soa init` writes one with every control applicable); the implementation status comes from a
scan's results for the control, in plain words. The file::

    version: "1.0"                      # the SoA's own version
    approval: {approver: "CISO, J. Roe", date: 2026-01-31}
    controls:
      A.5.1: {applicable: true, justification: "Policies direct the ISMS ..."}
      A.7.4: {applicable: false, justification: "No premises of our own: cloud only ..."}

Every one of the 93 controls needs a decision; an exclusion without a justification, an unknown control
id, a missing control or a malformed file is bad input (UsageError, exit 2).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compliance.errors import UsageError
from compliance.frameworks import Requirement, load
from compliance.scan import RocResult, Scan

ISO = "iso27001-2022"
DEFAULT_FILE = "soa-decisions.yaml"
STATUSES = ("implemented", "partially implemented", "not implemented", "not assessed")
EXCLUDED = "not applicable (excluded)"


@dataclass(frozen=True)
class Decision:
    applicable: bool
    justification: str


@dataclass(frozen=True)
class Decisions:
    version: str
    approver: str
    approved_on: str
    controls: dict[str, Decision]
    source: str = ""

    @property
    def approved(self) -> bool:
        return bool(self.approver and self.approved_on)


@dataclass(frozen=True)
class SoaRow:
    control_id: str
    title: str
    applicable: bool
    justification: str
    status: str
    result: str
    basis: str
    evidence: tuple[str, ...]


def annex_a() -> list[Requirement]:
    return [r for r in load(ISO).requirements if r.id.startswith("A.")]


def init_text(today: dt.date | None = None) -> str:
    """A decisions file with every control applicable and a justification to edit."""
    lines = [
        "# Statement of Applicability decisions: edit each justification; set applicable: false to",
        "# exclude a control and say why (an exclusion without a justification is refused).",
        "# Titles in comments are the tool's paraphrases, not the standard's text.",
        'version: "0.1"',
        "approval:",
        '  approver: ""          # who approved this SoA, e.g. "CISO, J. Roe"',
        '  date: ""              # when, e.g. ' + (today or dt.date.today()).isoformat(),
        "controls:",
    ]
    for req in annex_a():
        lines.append(f"  # {req.title}")
        lines.append(f'  {req.id}: {{applicable: true, justification: "Applicable: needed to treat the risks '
                     f'in our risk treatment plan (edit to say which)"}}')
    return "\n".join(lines) + "\n"


def load_decisions(path: Path) -> Decisions:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise UsageError(f"decisions file {path} not found: write one with `comply soa init`") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read decisions file {path}: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        raise UsageError(f"decisions file {path} is not valid YAML{where}") from None
    return parse_decisions(data, str(path))


def parse_decisions(data: Any, source: str) -> Decisions:
    """Check every decision; the first problem is raised as one line naming the file and the control."""
    if not isinstance(data, dict) or not isinstance(data.get("controls"), dict):
        raise UsageError(f"{source}: expected a mapping with 'version', 'approval' and 'controls'")
    if unknown := sorted(set(data) - {"version", "approval", "controls"}):
        raise UsageError(f"{source}: unknown key {unknown[0]!r}")
    version = data.get("version")
    if not isinstance(version, str | int | float) or not str(version).strip():
        raise UsageError(f"{source}: 'version' is required (the SoA's own version, e.g. \"1.0\")")
    approval = data.get("approval") or {}
    if not isinstance(approval, dict):
        raise UsageError(f"{source}: 'approval' must be a mapping of approver and date")
    approver, date = str(approval.get("approver") or "").strip(), approval.get("date") or ""
    if date:
        try:
            date = dt.date.fromisoformat(str(date)).isoformat()
        except ValueError:
            raise UsageError(f"{source}: approval date {date!r} is not a date like 2026-01-31") from None
    wanted = {r.id for r in annex_a()}
    controls: dict[str, Decision] = {}
    for key, entry in data["controls"].items():
        control = str(key)
        if control not in wanted:
            raise UsageError(f"{source}: {control!r} is not an ISO/IEC 27001:2022 Annex A control")
        controls[control] = _decision(entry, f"{source}: {control}")
    if missing := [r.id for r in annex_a() if r.id not in controls]:
        raise UsageError(f"{source}: no decision for {missing[0]}"
                         + (f" and {len(missing) - 1} more" if len(missing) > 1 else "")
                         + ": every Annex A control needs one")
    return Decisions(str(version).strip(), approver, str(date), controls, source)


def _decision(entry: Any, where: str) -> Decision:
    if not isinstance(entry, dict):
        raise UsageError(f"{where}: expected {{applicable: true|false, justification: ...}}")
    if unknown := sorted(set(entry) - {"applicable", "justification"}, key=str):
        raise UsageError(f"{where}: unknown key {unknown[0]!r}")
    applicable = entry.get("applicable")
    if not isinstance(applicable, bool):
        raise UsageError(f"{where}: 'applicable' must be true or false")
    justification = entry.get("justification")
    justification = justification.strip() if isinstance(justification, str) else ""
    if not applicable and not justification:
        raise UsageError(f"{where} is excluded without a justification: say why it does not apply")
    if not justification:
        raise UsageError(f"{where}: a justification for including it is required")
    return Decision(applicable, justification)


def implementation_status(result: RocResult | None, passed: int, failed: int) -> str:
    """The scan's result in plain words: what an ISO auditor reads in an SoA."""
    if result is RocResult.IN_PLACE:
        return "implemented"
    if result is RocResult.NOT_IN_PLACE:
        return "partially implemented" if passed else "not implemented"
    if passed and not failed:
        return "partially implemented"
    return "not assessed"


def build_soa(scan: Scan, decisions: Decisions, evidence_refs: dict[str, str]) -> list[SoaRow]:
    """One row per Annex A control, in the standard's order. Pure."""
    results = {r.requirement_id: r for r in scan.requirement_results if r.framework == ISO}
    by_check: dict[str, list] = {}
    for f in scan.findings:
        by_check.setdefault(f.check_id, []).append(f)
    rows = []
    for req in annex_a():
        decision = decisions.controls[req.id]
        res = results.get(req.id)
        findings = [f for c in req.checks for f in by_check.get(c, ())]
        passed = sum(1 for f in findings if f.status.value == "PASS")
        failed = sum(1 for f in findings if f.status.value == "FAIL" and f.suppressed_by is None)
        status = (implementation_status(res.result if res else None, passed, failed) if decision.applicable
                  else EXCLUDED)
        refs = list(dict.fromkeys(evidence_refs[e] for f in findings for e in f.evidence_ids
                                  if e in evidence_refs))
        evidence = (*req.checks, *(f"attestation {a}" for a in (res.attestation_ids if res else ())),
                    *(f"decision {d}" for d in (getattr(res, "decision_ids", ()) if res else ())),
                    *refs[:10], *((f"and {len(refs) - 10} more records",) if len(refs) > 10 else ()))
        rows.append(SoaRow(req.id, req.title, decision.applicable, decision.justification, status,
                           res.result.value if res else "not in this scan",
                           str(getattr(res, "basis", "")) if res else "", evidence))
    return rows
