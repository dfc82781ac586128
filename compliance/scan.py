"""A scan as the rest of the pipeline sees it: scope, identity, evidence, findings and results."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from compliance import __version__
from compliance.collect.record import EvidenceRecord, utcnow
from compliance.findings import Finding, Severity, Status


class RocResult(StrEnum):
    """The PCI Report on Compliance vocabulary for a requirement's result."""

    IN_PLACE = "In Place"
    NOT_IN_PLACE = "Not in Place"
    NOT_APPLICABLE = "Not Applicable"
    NOT_TESTED = "Not Tested"


class Basis(StrEnum):
    """Who drew a requirement's conclusion: the tool may never conclude more than its basis allows."""

    AUTOMATED = "automated"
    """The checks alone (In Place only where the catalog marks the requirement fully automated)."""
    ATTESTED = "attested"
    """The entity vouches, with files; never In Place until an assessor reviews it."""
    ASSESSED = "assessed"
    """A named assessor recorded the conclusion with `comply review`."""
    SCOPED = "scoped"
    """A recorded scoping decision (`comply scope not-applicable`)."""


@dataclass(frozen=True)
class RequirementResult:
    framework: str
    requirement_id: str
    result: RocResult
    detail: str
    check_ids: tuple[str, ...] = ()
    compensating: tuple[str, ...] = ()
    """Waivers' compensating controls (or justifications) that turned failures into In Place."""
    attestation_ids: tuple[str, ...] = ()
    basis: Basis = Basis.AUTOMATED
    waived: tuple[str, ...] = ()
    """The waived findings behind this result, each 'check on resource: waiver text', so a reader of
    the row sees which failures a waiver covers."""
    decision_ids: tuple[str, ...] = ()
    """Ids of the scoping decisions or assessor reviews this result rests on."""


@dataclass(frozen=True)
class WaiverUse:
    """A waiver as it applied to one scan: active, expired or matching nothing."""

    check_id: str
    resource_pattern: str
    justification: str
    approver: str
    expires: str
    state: str
    compensating_control: str | None = None
    matched: tuple[str, ...] = ()
    approved: str = ""
    """The day the approver signed the waiver off ('' for waivers recorded before it was required)."""


@dataclass
class Scan:
    target: str
    scope: dict[str, Any]
    identity: dict[str, Any] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    started_at: str = field(default_factory=utcnow)
    finished_at: str | None = None
    tool_version: str = __version__
    catalog_versions: dict[str, str] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    organisation: str | None = None
    """The assessed entity (--organisation, COMPLY_ORGANISATION): named on the report's cover."""
    preparer: str | None = None
    """The assessor or preparer (--preparer, COMPLY_PREPARER): on the cover and as the PDF's author."""
    evidence: list[EvidenceRecord] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    requirement_results: list[RequirementResult] = field(default_factory=list)
    waivers: list[WaiverUse] = field(default_factory=list)
    evidence_source: Callable[[Any], Iterator[EvidenceRecord]] | None = field(default=None, repr=False,
                                                                              compare=False)
    """When set, `evidence` holds the records without their responses (an index: small whatever the
    responses weigh) and this yields the full records, once per call, from where they are kept (a
    sharded scan's store), so the pack and the store are written as a stream, not from memory. Its
    argument is the store session to read through, or None for a session of its own."""

    def full_evidence(self, reader: Any = None) -> Iterator[EvidenceRecord]:
        """Every evidence record with its response: streamed from the source, else the list itself.

        `reader` is the session of a transaction writing to the source's store: a SQLite writer that
        has spilled its changes to the file holds an exclusive lock, so a read through any other
        connection would wait for the writer, which waits for the read."""
        return self.evidence_source(reader) if self.evidence_source is not None else iter(self.evidence)

    def counts(self) -> dict[str, int]:
        out = {s.value: 0 for s in Status}
        for f in self.findings:
            out[f.status.value] += 1
        return out

    def failing(self, at_least: Severity = Severity.INFORMATIONAL) -> list[Finding]:
        """Unwaived failures at or above a severity: what a CI gate fails on."""
        return [f for f in self.findings
                if f.status is Status.FAIL and f.suppressed_by is None and f.severity >= at_least]

    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.status is Status.ERROR]

    def evidence_by_id(self) -> dict[str, EvidenceRecord]:
        return {rec.id: rec for rec in self.evidence}


def finding_account(finding: Finding, evidence: Mapping[str, EvidenceRecord],
                    default: str | None = None) -> str | None:
    """The cloud account a finding is about: its ARN's, else its evidence's, else the scan's one account.

    S3 ARNs carry no account, so in an organisation scan the evidence a finding relied on says whose
    bucket it is.
    """
    parts = finding.resource_id.split(":")
    if len(parts) > 5 and parts[0] == "arn" and parts[4]:
        return parts[4]
    for evidence_id in finding.evidence_ids:
        record = evidence.get(evidence_id)
        if record is not None and record.account:
            return record.account
    return default
