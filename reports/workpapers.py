"""The report as an assessor's workpaper: pure functions from a scan to the parts a ROC is built from.

- the evidence index: every evidence record under a short reference (E1, E2 ...), in collection order,
  so a finding, a requirement and the index point at the same record and the record at its raw file;
- the population of each check (P1, P2 ...): every resource it assessed, passing and failing alike;
- per requirement, in catalog (ROC) order: the result and its basis, the testing performed in plain
  words, the populations behind it, its evidence references, and the waivers and attestations that
  affect it;
- a compensating-control worksheet per waiver that names a compensating control, laid out like the
  PCI DSS v4.0.1 Appendix C worksheet (constraints, objective, identified risk, definition, validation,
  maintenance) in our own words.

A population is listed once, under its check, and requirements refer to it: a check usually tests
several requirements, and repeating 10,000 resources under each would make the PDF unreadable and slow.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass
from fnmatch import fnmatchcase

from compliance.collect.record import EvidenceRecord
from compliance.findings import Finding, Status
from compliance.scan import RequirementResult, Scan, WaiverUse
from reports.attestations import Attestation
from reports.pdf_listing import CHARS_PER_LINE, Block, Line, text_lines
from reports.pdf_prose import RESULT_COLOURS, Span, paragraph, wrap
from reports.view import ScanView, check_meta, requirement_title

EVIDENCE_REFS_SHOWN = 12
"""Per requirement, the evidence references listed inline; the population lists every one."""
_STATUS_ORDER = {Status.FAIL: 0, Status.ERROR: 1, Status.MANUAL: 2, Status.PASS: 3}
_BASIS_WORDS = {
    "automated": "automated: the checks below, run by the tool",
    "attested": "attested: the entity vouches for it, with evidence files",
    "assessed": "assessed: a named assessor reviewed it",
    "scoped": "scoped: a recorded scoping decision",
}


@dataclass(frozen=True)
class EvidenceEntry:
    ref: str
    record: EvidenceRecord
    pack_path: str
    """Where the raw record is inside evidence.zip."""


@dataclass(frozen=True)
class PopulationRow:
    finding: Finding
    evidence_refs: tuple[str, ...]
    waived: bool


@dataclass(frozen=True)
class Population:
    ref: str
    anchor: str
    check_id: str
    title: str
    severity: str
    operations: tuple[str, ...]
    regions: tuple[str, ...]
    counts: dict[str, int]
    rows: list[PopulationRow]

    @property
    def size(self) -> int:
        return len(self.rows)

    @property
    def waived(self) -> int:
        return sum(1 for r in self.rows if r.waived)


@dataclass(frozen=True)
class Workpaper:
    anchor: str
    framework: str
    requirement_id: str
    title: str
    result: str
    cls: str
    basis: str
    basis_words: str
    detail: str
    testing: list[str]
    populations: list[Population]
    evidence_refs: list[str]
    evidence_hidden: int
    waivers: list[WaiverUse]
    attestations: list[Attestation]
    compensating: tuple[str, ...]
    has_checks: bool = True
    """False when no automated check tests the requirement (the PDF then gives it one short line)."""


@dataclass(frozen=True)
class Worksheet:
    anchor: str
    number: int
    waiver: WaiverUse
    requirements: list[str]
    constraints: str
    objective: str
    identified_risk: str
    definition: str
    validation: str
    maintenance: str


_UNSAFE = re.compile(r"[^A-Za-z0-9._@=+-]+")


def pack_name(record_id: str) -> str:
    """The raw record's file name in the pack, as reports.pack_files writes it."""
    return "raw/" + (_UNSAFE.sub("_", record_id).strip("._") or "unnamed") + ".json"


def evidence_index(scan: Scan) -> list[EvidenceEntry]:
    out, used = [], set()
    for i, rec in enumerate(scan.evidence, 1):
        name = pack_name(rec.id)
        while name in used:
            name = name.removesuffix(".json") + "_.json"
        used.add(name)
        out.append(EvidenceEntry(f"E{i}", rec, name))
    return out


def populations(view: ScanView, refs: dict[str, str]) -> dict[str, Population]:
    """Every check's population, in check-id order: failing first, then errors, manual, passing."""
    out = {}
    evidence = view.scan.evidence_by_id()
    for n, (check_id, findings) in enumerate(sorted(view.findings_by_check.items()), 1):
        meta = check_meta(check_id)
        rows = [PopulationRow(f, tuple(refs[e] for e in f.evidence_ids if e in refs),
                              f.suppressed_by is not None)
                for f in sorted(findings, key=lambda f: (_STATUS_ORDER[f.status], f.resource_id))]
        operations = sorted({f"{evidence[e].service}:{evidence[e].operation}"
                             for f in findings for e in f.evidence_ids if e in evidence})
        regions = sorted({f.region for f in findings if f.region})
        counts = Counter(f.status.value for f in findings)
        severity = (meta.severity or findings[0].severity).label
        out[check_id] = Population(f"P{n}", f"pop-{n}", check_id, meta.title, severity, tuple(operations),
                                   tuple(regions), {s.value: counts.get(s.value, 0) for s in Status}, rows)
    return out


def listing(pop: Population) -> str:
    """The population as fixed-width lines for the PDF, one a resource: status, resource, evidence refs,
    and the reason of every result that is not a pass (passing reasons are in the HTML and findings.csv)."""
    width = min(72, max((len(r.finding.resource_id) for r in pop.rows), default=10))
    ref_width = min(24, max((len(" ".join(r.evidence_refs)) for r in pop.rows), default=2))
    lines = []
    for row in pop.rows:
        f = row.finding
        status = f.status.value + ("*" if row.waived else "")
        line = f"{status:<7}{f.resource_id:<{width}}  {' '.join(row.evidence_refs):<{ref_width}}"
        if f.status is not Status.PASS:
            line += f"  {f.reason}"
        lines.append(line.rstrip())
    return "\n".join(lines)


def index_listing(entries: list[EvidenceEntry], width: int = CHARS_PER_LINE) -> str:
    """The evidence index as fixed-width lines for the PDF, one a record where it fits in `width`, else
    the record id on one line and the rest on the next."""
    lines = []
    for e in entries:
        r = e.record
        outcome = r.outcome.value + (f" {r.error_code}" if r.error_code else "")
        rest = f"{r.collected_at}  {outcome}  {r.request_id or '-'}  {r.sha256}"
        one = f"{e.ref:<7}{r.id}  {rest}"
        lines.append(one if len(one) <= width else f"{e.ref:<7}{r.id}\n{'':7}{rest}")
    return "\n".join(lines)


def population_blocks(pops: list[Population]) -> list[Block]:
    """The populations as listing blocks for the PDF: heading, summary line, then the listing."""
    blocks = []
    for pop in pops:
        c = pop.counts
        summary = (f"{pop.check_id}: {pop.size} resources, {c['PASS']} passing, {c['FAIL']} failing"
                   + (f" ({pop.waived} waived)" if pop.waived else "") + f", {c['ERROR']} not assessable"
                   + (f", {c['MANUAL']} manual" if c["MANUAL"] else "")
                   + f". Read with {', '.join(pop.operations) or 'no recorded API call'}.")
        blocks.append(Block([Line(f"{pop.ref}: {pop.title}  [{pop.severity}]", bold=True), Line(summary)],
                            text_lines(listing(pop)), anchor=pop.anchor))
    return blocks


def workpaper_blocks(papers: list[Workpaper]) -> list[Block]:
    """The workpapers as the PDF draws them (reports.pdf_prose): a requirement with nothing to show but
    its result on one paragraph, the others as a heading and a paragraph per part, like report.html's."""
    blocks: list[Block] = []
    after_paper = False
    for p in papers:
        short = not (p.populations or p.waivers or p.attestations)
        blocks.append(_one_line(p, space=int(after_paper)) if short else _paper(p))
        after_paper = not short
    return blocks


def _lines(spans: list[Span]) -> list[Line]:
    return [Line("", spans=tuple(line), indent=at) for at, line in wrap(spans)]


def _result(p: Workpaper) -> Span:
    return Span(p.result, True, RESULT_COLOURS[p.cls])


def _one_line(p: Workpaper, space: int) -> Block:
    testing = " " + " ".join(p.testing) if p.has_checks and p.testing else ""
    spans = paragraph(Span(p.requirement_id, True), f" {p.title}: ", _result(p),
                      f" ({p.basis}). {p.detail}.{testing}")
    return Block((), _lines(spans), anchor=p.anchor, space=space)


def _paper(p: Workpaper) -> Block:
    bold = [Span(f"{p.requirement_id} {p.title}  ", True), _result(p)]
    body = _lines(paragraph(Span("Basis: ", True), f"{p.basis_words}. ", Span("Conclusion: ", True),
                            p.detail))
    body += _lines([Span("Testing performed:", True)]) + [w for t in p.testing for w in _lines([Span(t)])]
    if p.populations:
        parts = "; ".join(
            f"{pop.ref} ({pop.size} resources: {pop.counts['PASS']} passing, {pop.counts['FAIL']} failing"
            + (f", {pop.counts['ERROR']} not assessable" if pop.counts["ERROR"] else "") + ")"
            for pop in p.populations)
        body += _lines(paragraph(Span("Population: ", True), parts))
    if p.evidence_refs:
        more = (f" and {p.evidence_hidden} more, each listed against its resource in the population"
                if p.evidence_hidden else "")
        body += _lines(paragraph(Span("Evidence: ", True), ", ".join(p.evidence_refs) + more))
    for w in p.waivers:
        control = f"; compensating control: {w.compensating_control}" if w.compensating_control else ""
        body += _lines(paragraph(Span("Waiver", True), f" ({w.state}): {w.check_id} on {w.resource_pattern}: "
                                 f"{w.justification}; approved by {w.approver}, expires "
                                 f"{w.expires or 'never set'}{control}"))
    for a in p.attestations:
        body += _lines(paragraph(Span("Attestation", True), f" {a.id} by {a.attested_by} until "
                                 f"{a.expires_at}: {a.note}"))
    return Block(_lines(bold), body, anchor=p.anchor, space=1)


INDEX_HEADER = (Line("Ref    Record id  Collected (UTC)  outcome  request id  SHA-256", bold=True),)


def index_blocks(entries: list[EvidenceEntry]) -> list[Block]:
    """The evidence index as listing blocks for the PDF: one two-line block per record."""
    return [Block((), text_lines(index_listing([e]))) for e in entries]


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def testing_performed(pop: Population) -> str:
    """One sentence a reader can check against the evidence: what was called, over what, with what result."""
    calls = ", ".join(pop.operations) if pop.operations else "no recorded API call"
    where = f" in {', '.join(pop.regions)}" if pop.regions else ""
    c = pop.counts
    parts = [f"{c['PASS']:,} passed", f"{c['FAIL']:,} failed"]
    if pop.waived:
        parts.append(f"{pop.waived:,} of them waived")
    if c["ERROR"]:
        parts.append(f"{c['ERROR']:,} could not be assessed")
    if c["MANUAL"]:
        parts.append(f"{c['MANUAL']:,} left to a person")
    return (f"{pop.title} ({pop.check_id}): read {calls}{where} and assessed "
            f"{_plural(pop.size, 'resource')}: {', '.join(parts)}. Population {pop.ref}.")


def _not_run(check_id: str) -> str:
    return (f"{check_meta(check_id).title} ({check_id}): no resource was assessed in this scan "
            "(the check did not run or found nothing in scope).")


def waivers_for(scan: Scan, check_ids: list[str]) -> list[WaiverUse]:
    return [w for w in scan.waivers if any(fnmatchcase(c, w.check_id) for c in check_ids)]


def workpapers(view: ScanView, pops: dict[str, Population], attestations: list[Attestation],
               classes: dict[str, str]) -> dict[str, list[Workpaper]]:
    """Per framework, one workpaper per requirement result, in ROC (catalog) order."""
    by_id = {a.id: a for a in attestations}
    out: dict[str, list[Workpaper]] = defaultdict(list)
    for r in view.results:
        out[r.framework].append(_workpaper(view, r, pops, by_id, classes))
    return dict(out)


def _workpaper(view: ScanView, r: RequirementResult, pops: dict[str, Population],
               attestations: dict[str, Attestation], classes: dict[str, str]) -> Workpaper:
    checks = view.checks_of(r)
    used = [pops[c] for c in checks if c in pops]
    testing = [testing_performed(p) if c in pops else _not_run(c) for c, p in
               ((c, pops.get(c)) for c in checks)]
    if not checks:
        testing = ["No automated check tests this requirement: it rests on attestation, an assessor's "
                   "review or a scoping decision."]
    refs = list(dict.fromkeys(e for p in used for row in p.rows for e in row.evidence_refs))
    basis = str(getattr(r, "basis", "") or ("attested" if r.attestation_ids else "automated"))
    return Workpaper(
        anchor=f"wp-{r.framework}-{r.requirement_id}", framework=r.framework, requirement_id=r.requirement_id,
        title=requirement_title(r.framework, r.requirement_id), result=r.result.value,
        cls=classes[r.result.value], basis=basis, basis_words=_BASIS_WORDS.get(basis, basis), detail=r.detail,
        testing=testing, populations=used, evidence_refs=refs[:EVIDENCE_REFS_SHOWN],
        evidence_hidden=max(0, len(refs) - EVIDENCE_REFS_SHOWN), waivers=waivers_for(view.scan, checks),
        attestations=[attestations[a] for a in r.attestation_ids if a in attestations],
        compensating=r.compensating, has_checks=bool(checks))


def worksheets(view: ScanView) -> list[Worksheet]:
    """One Appendix C-shaped worksheet per waiver that names a compensating control."""
    out = []
    for w in view.scan.waivers:
        if not w.compensating_control:
            continue
        checks = [c for c in view.findings_by_check if fnmatchcase(c, w.check_id)] or [w.check_id]
        reqs = list(dict.fromkeys(ref for c in checks for ref in view.refs(c)))
        metas = [check_meta(c) for c in checks]
        objective = " ".join(dict.fromkeys(m.rationale for m in metas if m.rationale)) or (
            "What the requirements below intend, as the checks " + ", ".join(checks) + " test it.")
        matched = len(w.matched)
        risk = (f"The original control is not met on {_plural(matched, 'resource')} matching "
                f"{w.resource_pattern}: " + "; ".join(dict.fromkeys(m.title for m in metas))
                + " fails there.")
        n = len(out) + 1
        out.append(Worksheet(
            anchor=f"ccw-{n}", number=n, waiver=w, requirements=reqs,
            constraints=f"Why the original control cannot be met as written: {w.justification}",
            objective=objective, identified_risk=risk,
            definition=w.compensating_control,
            validation=(f"Approved by {w.approver}. The scan applied the waiver to "
                        f"{_plural(matched, 'failing finding')} (state: {w.state}); those findings stay "
                        "listed in their populations, marked waived. The assessor confirms the "
                        "compensating control is in place and working from evidence the entity supplies."),
            maintenance=(f"The waiver expires on {w.expires or 'no date (so it never counted)'}; after that "
                         "the failures count again. The entity reviews the compensating control before "
                         "renewing it.")))
    return out
