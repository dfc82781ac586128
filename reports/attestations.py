"""Attestations referenced by a scan's requirement results, read from the store for the report and pack."""

from __future__ import annotations

from compliance.attestations import Attestation, attestation_files, list_attestations
from compliance.scan import Scan
from compliance.store import Store


def referenced_ids(scan: Scan) -> list[str]:
    return list(dict.fromkeys(a for r in scan.requirement_results for a in r.attestation_ids))


def load_attestations(store: Store | None, scan: Scan) -> list[Attestation]:
    """The scan's attestations; without a store, or for a deleted one, a stand-in naming the id only."""
    wanted = referenced_ids(scan)
    if not wanted:
        return []
    found = {a.id: a for a in list_attestations(store)} if store is not None else {}
    by_result = {a: r for r in scan.requirement_results for a in r.attestation_ids}
    return [found.get(a) or Attestation(a, by_result[a].framework, by_result[a].requirement_id,
                                        "(not in the store)", "", "", "")
            for a in wanted]


def attached_files(store: Store | None, attestations: list[Attestation]) -> dict[str, tuple[str, bytes]]:
    """Each attestation's evidence as pack path parts: '<attestation id>/<sha256>' -> (file name, bytes)."""
    if store is None:
        return {}
    out: dict[str, tuple[str, bytes]] = {}
    for att in attestations:
        stored = attestation_files(store, att.id)
        for entry in att.files:
            if entry.get("sha256") in stored:
                out[f"{att.id}/{entry['sha256']}"] = stored[entry["sha256"]]
    return out
