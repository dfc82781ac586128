"""Attestations referenced by a scan's requirement results, read from the store for the report and pack."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from compliance.scan import Scan
from compliance.store import AttestationFileRow, AttestationRow, Store


@dataclass(frozen=True)
class AttestationFile:
    name: str
    sha256: str
    content: bytes


@dataclass(frozen=True)
class Attestation:
    id: str
    framework: str
    requirement_id: str
    attested_by: str
    note: str
    created_at: str
    expires_at: str
    files: tuple[AttestationFile, ...] = ()


def referenced_ids(scan: Scan) -> list[str]:
    return list(dict.fromkeys(a for r in scan.requirement_results for a in r.attestation_ids))


def load_attestations(store: Store | None, scan: Scan) -> list[Attestation]:
    """The scan's attestations with their files; without a store, or for a deleted one, the id only."""
    wanted = referenced_ids(scan)
    if not wanted:
        return []
    found: dict[str, Attestation] = {}
    if store is not None:
        with store.session() as db:
            for row in db.scalars(select(AttestationRow).where(AttestationRow.id.in_(wanted))):
                files = {f.sha256: f for f in db.scalars(
                    select(AttestationFileRow).where(AttestationFileRow.attestation_id == row.id))}
                ordered = [files[e["sha256"]] for e in row.files if e.get("sha256") in files]
                found[row.id] = Attestation(
                    row.id, row.framework, row.requirement_id, row.attested_by, row.note, row.created_at,
                    row.expires_at, tuple(AttestationFile(f.name, f.sha256, f.content) for f in ordered))
    by_result = {a: r for r in scan.requirement_results for a in r.attestation_ids}
    return [found.get(a) or Attestation(a, by_result[a].framework, by_result[a].requirement_id,
                                        "(not in the store)", "", "", "")
            for a in wanted]
