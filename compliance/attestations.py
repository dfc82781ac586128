"""Manual attestations: a person's signed-off evidence for what no check can test.

An attestation names one requirement, who vouches for it, a note, an expiry, and evidence files whose
bytes and SHA-256 are kept in the store, so the evidence cannot change after the fact.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, ValidationError
from sqlalchemy import select

from compliance import keys, seal
from compliance.errors import UsageError
from compliance.frameworks import load
from compliance.store import AttestationFileRow, AttestationRow, Store


@dataclass(frozen=True)
class Attestation:
    id: str
    framework: str
    requirement_id: str
    attested_by: str
    note: str
    created_at: str
    expires_at: str
    files: tuple[dict, ...] = ()
    """[{name, sha256, size}] in the order given."""

    def active(self, at: dt.datetime) -> bool:
        return at < _parse(self.expires_at)

    def state(self, at: dt.datetime) -> str:
        return "active" if self.active(at) else "expired"


def _parse(stamp: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(stamp)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _read_evidence(paths: Sequence[Path]) -> list[tuple[str, bytes]]:
    if not paths:
        raise UsageError("an attestation needs at least one --evidence file")
    out = []
    for path in paths:
        if not path.is_file():
            raise UsageError(f"evidence file {path} does not exist or is not a file")
        try:
            out.append((path.name, path.read_bytes()))
        except OSError as exc:
            raise UsageError(f"cannot read evidence file {path}: {exc.strerror or exc}") from None
    return out


def add_attestation(store: Store, framework_id: str, requirement_id: str, evidence: Sequence[Path],
                    attested_by: str, note: str, expires_at: dt.datetime,
                    now: dt.datetime | None = None, signer: keys.Signer | None = None) -> Attestation:
    now = now or _now()
    load(framework_id).requirement(requirement_id)
    if not attested_by.strip():
        raise UsageError("an attestation needs the name of who attests (--by)")
    if not note.strip():
        raise UsageError("an attestation needs a note saying what the evidence shows (--note)")
    if expires_at <= now:
        raise UsageError(f"expiry {expires_at.isoformat(timespec='seconds')} is not in the future")
    blobs = _read_evidence(evidence)
    files = tuple({"name": name, "sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                  for name, data in blobs)
    att = Attestation(id=uuid.uuid4().hex[:12], framework=framework_id, requirement_id=requirement_id,
                      attested_by=attested_by.strip(), note=note.strip(),
                      created_at=now.isoformat(timespec="seconds"),
                      expires_at=expires_at.isoformat(timespec="seconds"), files=files)
    stored: dict[str, AttestationFileRow] = {}
    for meta, (_, data) in zip(files, blobs, strict=True):
        stored.setdefault(meta["sha256"], AttestationFileRow(attestation_id=att.id, sha256=meta["sha256"],
                                                             name=meta["name"], content=data))
    row = AttestationRow(id=att.id, framework=att.framework, requirement_id=att.requirement_id,
                         attested_by=att.attested_by, note=att.note, created_at=att.created_at,
                         expires_at=att.expires_at, files=list(files))
    contents = {digest: data.content for digest, data in stored.items()}
    store.add_sealed(row, "attestation", att.id, attestation_parts(att, contents), signer,
                     list(stored.values()))
    return att


def attestation_parts(att: Attestation, contents: dict[str, bytes]) -> dict:
    """What an attestation's seal covers: its fields and the SHA-256 of every stored file's bytes."""
    return {"attestation": {"id": att.id, "framework": att.framework, "requirement_id": att.requirement_id,
                            "attested_by": att.attested_by, "note": att.note, "created_at": att.created_at,
                            "expires_at": att.expires_at, "files": list(att.files)},
            "files": sorted(hashlib.sha256(data).hexdigest() for data in contents.values())}


def list_attestations(store: Store, framework_id: str | None = None, *,
                      trusted: keys.PublicKey | None = None) -> list[Attestation]:
    """Every stored attestation, each verified against its seal (IntegrityError if one was edited)."""
    query = select(AttestationRow).order_by(AttestationRow.created_at, AttestationRow.id)
    if framework_id:
        query = query.where(AttestationRow.framework == framework_id)
    with store.session() as db:
        found = [_checked(Attestation(r.id, r.framework, r.requirement_id, r.attested_by, r.note,
                                      r.created_at, r.expires_at, tuple(r.files or ())), store)
                 for r in db.scalars(query)]
    if found:
        trusted = trusted or seal.trusted_key()
    for att in found:
        contents = {k: v for k, (_, v) in attestation_files(store, att.id).items()}
        store.verify("attestation", att.id, attestation_parts(att, contents),
                     f"attestation {att.id} ({att.requirement_id}, by {att.attested_by})", trusted)
    return found


class _StoredAttestation(BaseModel):
    """What a stored attestation row must hold for its state to be computed; anything else is refused."""

    id: str
    created_at: dt.datetime
    expires_at: dt.datetime
    files: list[dict]


def _checked(att: Attestation, store: Store) -> Attestation:
    try:
        _StoredAttestation.model_validate({"id": att.id, "created_at": att.created_at,
                                           "expires_at": att.expires_at, "files": list(att.files)})
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"])
        raise UsageError(f"attestation {att.id} in {store.url} is malformed: {field}: {error['msg']}; "
                         "remove or repair that row") from None
    return att


def active_attestations(store: Store, at: dt.datetime | None = None) -> list[Attestation]:
    at = at or _now()
    return [a for a in list_attestations(store) if a.active(at)]


def attestation_files(store: Store, attestation_id: str) -> dict[str, tuple[str, bytes]]:
    """The stored evidence of one attestation: sha256 -> (file name, bytes)."""
    with store.session() as db:
        query = select(AttestationFileRow).where(AttestationFileRow.attestation_id == attestation_id)
        return {r.sha256: (r.name, r.content) for r in db.scalars(query)}
