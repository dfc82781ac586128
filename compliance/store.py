"""Scans, findings, evidence, requirement results, waivers and attestations in SQL (SQLite or PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    create_engine,
    delete,
    insert,
    select,
)
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ArgumentError, DatabaseError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from compliance import keys, seal
from compliance.collect.record import EvidenceRecord
from compliance.errors import IntegrityError, UsageError
from compliance.findings import Finding
from compliance.migrate import prepare
from compliance.redact import mask_url, redact
from compliance.scan import Basis, RequirementResult, RocResult, Scan, WaiverUse


class Base(DeclarativeBase):
    pass


class ScanRow(Base):
    __tablename__ = "scans"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    target: Mapped[str] = mapped_column(String(32))
    started_at: Mapped[str] = mapped_column(String(40), index=True)
    finished_at: Mapped[str | None] = mapped_column(String(40))
    tool_version: Mapped[str] = mapped_column(String(40))
    scope: Mapped[dict] = mapped_column(JSON)
    identity: Mapped[dict] = mapped_column(JSON)
    catalog_versions: Mapped[dict] = mapped_column(JSON)
    options: Mapped[dict] = mapped_column(JSON)
    organisation: Mapped[str | None] = mapped_column(String(200))
    preparer: Mapped[str | None] = mapped_column(String(200))


class EvidenceRow(Base):
    __tablename__ = "evidence_records"
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True)
    id: Mapped[str] = mapped_column(String(400), primary_key=True)
    body: Mapped[dict] = mapped_column(JSON)


class FindingRow(Base):
    __tablename__ = "findings"
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True)
    uid: Mapped[str] = mapped_column(String(32), primary_key=True)
    check_id: Mapped[str] = mapped_column(String(200), index=True)
    resource_id: Mapped[str] = mapped_column(Text)
    resource_type: Mapped[str] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(8), index=True)
    severity: Mapped[int] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    evidence_ids: Mapped[list] = mapped_column(JSON)
    suppressed_by: Mapped[str | None] = mapped_column(Text)


class RequirementRow(Base):
    __tablename__ = "requirement_results"
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True)
    framework: Mapped[str] = mapped_column(String(40), primary_key=True)
    requirement_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    result: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text)
    check_ids: Mapped[list] = mapped_column(JSON)
    compensating: Mapped[list] = mapped_column(JSON)
    attestation_ids: Mapped[list] = mapped_column(JSON)
    basis: Mapped[str] = mapped_column(String(16), server_default="automated")
    """automated | attested | assessed | scoped: who drew the conclusion."""
    waived: Mapped[list] = mapped_column(JSON, server_default="[]")
    decision_ids: Mapped[list] = mapped_column(JSON, server_default="[]")


class WaiverRow(Base):
    __tablename__ = "scan_waivers"
    scan_id: Mapped[str] = mapped_column(ForeignKey("scans.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    body: Mapped[dict] = mapped_column(JSON)


class AttestationRow(Base):
    __tablename__ = "attestations"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    framework: Mapped[str] = mapped_column(String(40), index=True)
    requirement_id: Mapped[str] = mapped_column(String(40), index=True)
    attested_by: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    files: Mapped[list] = mapped_column(JSON)
    """[{name, sha256, size}] in the order given; the bytes are in attestation_files."""


class AttestationFileRow(Base):
    __tablename__ = "attestation_files"
    attestation_id: Mapped[str] = mapped_column(ForeignKey("attestations.id", ondelete="CASCADE"),
                                                primary_key=True)
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(400))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class ScopingDecisionRow(Base):
    """A recorded decision that a requirement is not applicable, by whom, why and until when."""

    __tablename__ = "scoping_decisions"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    framework: Mapped[str] = mapped_column(String(40), index=True)
    requirement_id: Mapped[str] = mapped_column(String(40), index=True)
    justification: Mapped[str] = mapped_column(Text)
    decided_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[str] = mapped_column(String(40))
    expires_at: Mapped[str] = mapped_column(String(40))
    """'' when the decision has no end date."""


class ReviewRow(Base):
    """An assessor's conclusion on one requirement of one stored scan."""

    __tablename__ = "reviews"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    scan_id: Mapped[str] = mapped_column(String(32), index=True)
    framework: Mapped[str] = mapped_column(String(40))
    requirement_id: Mapped[str] = mapped_column(String(40))
    result: Mapped[str] = mapped_column(String(20))
    assessor: Mapped[str] = mapped_column(String(200))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[str] = mapped_column(String(40))
    signature: Mapped[dict | None] = mapped_column(JSON)
    """The assessor's own signature over the review ({algorithm, key_fingerprint, public_key,
    signature}), when they gave --signing-key."""


class SealRow(Base):
    """The seal of a scan, attestation, scoping decision or review (see compliance.seal)."""

    __tablename__ = "seals"
    kind: Mapped[str] = mapped_column(String(20), primary_key=True)
    record_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    body: Mapped[dict] = mapped_column(JSON)


class PlanRow(Base):
    """A scan planned as shards (compliance.shards): what to scan, where its results go, its state."""

    __tablename__ = "scan_plans"
    scan_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    created_at: Mapped[str] = mapped_column(String(40))
    target: Mapped[str] = mapped_column(String(32))
    request: Mapped[dict] = mapped_column(JSON)
    """The target's options, as the shards need them to connect and collect."""
    output: Mapped[dict] = mapped_column(JSON)
    """The scan's output options, as the finishing step needs them."""
    scope: Mapped[dict] = mapped_column(JSON)
    listing: Mapped[dict] = mapped_column(JSON)
    """The evidence record of the account listing the plan was made from."""
    state: Mapped[str] = mapped_column(String(16))
    """planned, finishing or finished: only one process moves it from planned to finishing."""
    finished_at: Mapped[str | None] = mapped_column(String(40))


class ShardRow(Base):
    """One unit of a planned scan (an account, or an account's region) and its committed result."""

    __tablename__ = "scan_shards"
    scan_id: Mapped[str] = mapped_column(ForeignKey("scan_plans.scan_id", ondelete="CASCADE"),
                                         primary_key=True)
    idx: Mapped[int] = mapped_column(Integer, primary_key=True)
    account: Mapped[str] = mapped_column(String(12))
    name: Mapped[str] = mapped_column(String(200))
    region: Mapped[str | None] = mapped_column(String(64))
    """None for the whole account; 'global' for its global services; else one region."""
    state: Mapped[str] = mapped_column(String(16))
    """pending, running, done or failed."""
    attempt: Mapped[int] = mapped_column(Integer)
    """Raised by every attempt as it starts; only the newest attempt may commit (fencing)."""
    started_at: Mapped[str | None] = mapped_column(String(40))
    finished_at: Mapped[str | None] = mapped_column(String(40))
    reason: Mapped[str | None] = mapped_column(Text)
    result: Mapped[dict | None] = mapped_column(JSON)
    """{reached, reason, evidence: [...], findings: [...] or null when the finishing step evaluates}."""


def default_url() -> str:
    if url := os.environ.get("COMPLY_DB"):
        return url
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "comply"
    return f"sqlite:///{base / 'comply.db'}"


SQLITE_HEADER = b"SQLite format 3\x00"


def _sqlite_path(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return None
    return Path(parsed.database).expanduser()


def _check_sqlite_file(path: Path, shown: str) -> None:
    """A file that is not SQLite (or is cut short) is refused before SQLite tries to use it."""
    if path.is_dir():
        raise UsageError(f"the store {shown} is a directory, not a database file")
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            reason = "a file is in the way" if isinstance(exc, FileExistsError | NotADirectoryError) else \
                exc.strerror
            raise UsageError(f"cannot create the store's folder {path.parent}: {reason}") from None
        return
    try:
        with path.open("rb") as handle:
            header = handle.read(100)
    except OSError as exc:
        raise UsageError(f"cannot read the store {shown}: {exc.strerror}") from None
    if header and not header.startswith(SQLITE_HEADER):
        raise UsageError(f"{shown} is not a comply store (not an SQLite database); use another --db")
    if header and len(header) < 100:
        raise UsageError(f"the store {shown} is truncated ({len(header)} bytes); "
                         "restore it or use another --db")


SQLITE_BUSY_SECONDS = 120


def _engine(url: str, shown: str) -> Engine:
    try:
        sqlite = _sqlite_path(url)
        if sqlite is not None:
            _check_sqlite_file(sqlite, shown)
        # SQLite: wait for another process's write (a shard committing, `--workers N`) rather than fail
        # after pysqlite's 5 s; a loaded machine can hold a commit of a large shard that long
        waits = {"timeout": SQLITE_BUSY_SECONDS} if sqlite is not None else {}
        engine = create_engine(url, future=True, connect_args=waits)
        prepare(engine, shown)
    except UsageError:
        raise
    except (ArgumentError, ValueError) as exc:
        raise UsageError(f"cannot parse the store URL {shown}: {redact(_first_line(exc))}") from None
    except DatabaseError as exc:
        raise UsageError(f"cannot use the store {shown}: {redact(_first_line(exc.orig or exc))}") from None
    except (SQLAlchemyError, ModuleNotFoundError, OSError) as exc:
        raise UsageError(f"cannot open the store {shown}: {redact(_first_line(exc))}") from None
    return engine


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


class Store:
    def __init__(self, url: str | None = None) -> None:
        self._url = url or default_url()
        self.url = mask_url(self._url)
        """The URL as it may be shown: password masked."""
        self.engine = _engine(self._url, self.url)

    def check_writable(self) -> None:
        """Refuse a store that can be read but not written, before a scan collects anything."""
        try:
            with self.engine.connect() as conn:
                if conn.dialect.name == "sqlite":
                    conn.exec_driver_sql("BEGIN IMMEDIATE")
                conn.rollback()
        except DatabaseError as exc:
            raise UsageError(f"cannot write to the store {self.url}: "
                             f"{redact(_first_line(exc.orig or exc))}") from None

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def save_scan(self, scan: Scan, signer: keys.Signer | None = None) -> str:
        """Store the scan and seal it with the signing key, in one transaction.

        A scan whose evidence comes from a source (a sharded scan) is written as a stream: its records
        go in by the batch, and the seal's digest of them is read back from the rows in id order, so
        neither step holds every record at once.
        """
        signer = signer or keys.signer()
        streamed = scan.evidence_source is not None
        parts = scan_parts(scan, evidence=not streamed)
        with self.session() as db, db.begin():
            for table in (EvidenceRow, FindingRow, RequirementRow, WaiverRow):
                db.execute(delete(table).where(table.scan_id == scan.id))
            db.execute(delete(SealRow).where(SealRow.kind == "scan", SealRow.record_id == scan.id))
            db.execute(delete(ScanRow).where(ScanRow.id == scan.id))
            db.add(ScanRow(id=scan.id, target=scan.target, started_at=scan.started_at,
                           finished_at=scan.finished_at, tool_version=scan.tool_version, scope=scan.scope,
                           identity=scan.identity, catalog_versions=scan.catalog_versions,
                           options=scan.options, organisation=scan.organisation,
                           preparer=scan.preparer))
            db.flush()
            _insert_evidence(db, scan.id, scan.full_evidence(db))
            digests = {"evidence_records": _evidence_digest(db, scan.id)} if streamed else None
            db.add_all(_finding_row(scan.id, f) for f in _unique(scan.findings))
            db.add_all(RequirementRow(scan_id=scan.id, framework=r.framework, requirement_id=r.requirement_id,
                                      result=r.result.value, detail=r.detail, check_ids=list(r.check_ids),
                                      compensating=list(r.compensating),
                                      attestation_ids=list(r.attestation_ids), basis=r.basis.value,
                                      waived=list(r.waived), decision_ids=list(r.decision_ids))
                       for r in scan.requirement_results)
            db.add_all(WaiverRow(scan_id=scan.id, position=i, body=_waiver_dict(w))
                       for i, w in enumerate(scan.waivers))
            body = seal.make_seal("scan", scan.id, parts, signer, digests)
            db.add(SealRow(kind="scan", record_id=scan.id, body=body))
        return scan.id

    def seal_of(self, kind: str, record_id: str) -> dict | None:
        with self.session() as db:
            row = db.get(SealRow, (kind, record_id))
            return row.body if row is not None else None

    def add_sealed(self, row: Base, kind: str, record_id: str, parts: dict[str, Any],
                   signer: keys.Signer | None = None, extra: list[Base] | None = None) -> None:
        """Insert a record (and its dependants) with its seal in one transaction."""
        body = seal.make_seal(kind, record_id, parts, signer or keys.signer())
        with self.session() as db, db.begin():
            db.add(row)
            db.flush()
            db.add_all(extra or [])
            db.add(SealRow(kind=kind, record_id=record_id, body=body))

    def verify(self, kind: str, record_id: str, parts: dict[str, Any], label: str,
               trusted: keys.PublicKey | None = None) -> None:
        """Refuse (IntegrityError, exit 1) a record whose rows no longer match its seal."""
        seal.require(self.seal_of(kind, record_id), kind, record_id, parts, trusted or seal.trusted_key(),
                     label)

    def load_scan(self, scan_id: str, *, trusted: keys.PublicKey | None = None, verify: bool = True) -> Scan:
        """The stored scan; with verify (the default), refused unless it matches its seal by the
        trusted key (the configured signing key unless given)."""
        try:
            scan = self._load_scan(scan_id)
        except (TypeError, KeyError, ValueError, AttributeError) as exc:
            if not verify:
                raise
            raise IntegrityError(f"scan {scan_id} in {self.url} fails its seal: its rows no longer parse "
                                 f"({type(exc).__name__}: {exc}): refusing to use it") from None
        if verify:
            self.verify("scan", scan.id, scan_parts(scan), f"scan {scan.id} in {self.url}", trusted)
        return scan

    def _load_scan(self, scan_id: str) -> Scan:
        with self.session() as db:
            row = db.get(ScanRow, scan_id)
            if row is None:
                raise UsageError(f"no scan {scan_id!r} in {self.url}")
            scan = Scan(target=row.target, scope=row.scope, identity=row.identity, id=row.id,
                        started_at=row.started_at, finished_at=row.finished_at, tool_version=row.tool_version,
                        catalog_versions=row.catalog_versions, options=row.options,
                        organisation=row.organisation, preparer=row.preparer)
            scan.evidence = [EvidenceRecord.from_dict(r.body) for r in
                             db.scalars(select(EvidenceRow).where(EvidenceRow.scan_id == scan_id))]
            scan.findings = [_finding(r) for r in
                             db.scalars(select(FindingRow).where(FindingRow.scan_id == scan_id)
                                        .order_by(FindingRow.check_id, FindingRow.resource_id))]
            scan.requirement_results = [
                RequirementResult(r.framework, r.requirement_id, RocResult(r.result), r.detail,
                                  tuple(r.check_ids), tuple(r.compensating), tuple(r.attestation_ids),
                                  Basis(r.basis), tuple(r.waived or ()), tuple(r.decision_ids or ()))
                for r in db.scalars(select(RequirementRow).where(RequirementRow.scan_id == scan_id))]
            scan.waivers = [_waiver(r.body) for r in
                            db.scalars(select(WaiverRow).where(WaiverRow.scan_id == scan_id)
                                       .order_by(WaiverRow.position))]
        return scan

    def list_scans(self) -> list[ScanRow]:
        with self.session() as db:
            return list(db.scalars(select(ScanRow).order_by(ScanRow.started_at.desc())))

    def latest_scan_id(self) -> str | None:
        scans = self.list_scans()
        return scans[0].id if scans else None


EVIDENCE_BATCH = 500
"""Evidence rows written, or read back for the seal, this many at a time when streaming."""


def _insert_evidence(db: Session, scan_id: str, records: Iterable[EvidenceRecord]) -> None:
    batch: list[dict[str, Any]] = []
    for rec in records:
        batch.append({"scan_id": scan_id, "id": rec.id, "body": rec.as_dict()})
        if len(batch) == EVIDENCE_BATCH:
            db.execute(insert(EvidenceRow), batch)
            batch = []
    if batch:
        db.execute(insert(EvidenceRow), batch)


def _evidence_digest(db: Session, scan_id: str) -> str:
    """The seal's digest of a scan's evidence records, from its rows in id order (code point order,
    as Python sorts: PostgreSQL's "C" collation, SQLite's default), a page at a time."""
    order = EvidenceRow.id.collate("C") if db.get_bind().dialect.name == "postgresql" else EvidenceRow.id
    rows = db.execute(select(EvidenceRow.body).where(EvidenceRow.scan_id == scan_id).order_by(order)
                      .execution_options(yield_per=EVIDENCE_BATCH)).scalars()
    return seal.digest_list(rows)


def scan_parts(scan: Scan, *, evidence: bool = True) -> dict[str, Any]:
    """What a scan's seal covers, in a canonical order that survives a round trip through the store.
    Without `evidence`, the evidence records are left out (the caller digests them as a stream)."""
    parts = {
        "scan": {"id": scan.id, "target": scan.target, "started_at": scan.started_at,
                 "finished_at": scan.finished_at, "tool_version": scan.tool_version,
                 "catalog_versions": scan.catalog_versions, "options": scan.options,
                 # only when set, so scans sealed before the column existed still verify
                 **({"organisation": scan.organisation} if scan.organisation else {}),
                 **({"preparer": scan.preparer} if scan.preparer else {})},
        "scope": {"scope": scan.scope, "identity": scan.identity},
        "findings": sorted(({"uid": f.uid, **f.as_dict()} for f in _unique(scan.findings)),
                           key=lambda d: d["uid"]),
        "evidence_records": sorted((rec.as_dict() for rec in scan.evidence), key=lambda d: str(d.get("id")))
        if evidence else None,
        "requirement_results": sorted(
            ({"framework": r.framework, "requirement_id": r.requirement_id, "result": r.result.value,
              "detail": r.detail, "check_ids": list(r.check_ids), "compensating": list(r.compensating),
              "attestation_ids": list(r.attestation_ids), "basis": r.basis.value, "waived": list(r.waived),
              "decision_ids": list(r.decision_ids)} for r in scan.requirement_results),
            key=lambda d: (d["framework"], d["requirement_id"])),
        "waivers": [_waiver_dict(w) for w in scan.waivers],
    }
    if not evidence:
        del parts["evidence_records"]
    return parts


def _unique(findings: list[Finding]) -> list[Finding]:
    """One finding per check and resource: the first verdict wins, later duplicates are dropped."""
    seen: dict[str, Finding] = {}
    for f in findings:
        seen.setdefault(f.uid, f)
    return list(seen.values())


def _finding_row(scan_id: str, f: Finding) -> FindingRow:
    return FindingRow(scan_id=scan_id, uid=f.uid, **f.as_dict())


def _finding(r: FindingRow) -> Finding:
    return Finding.from_dict({c.key: getattr(r, c.key) for c in FindingRow.__table__.columns})


def _waiver_dict(w: WaiverUse) -> dict[str, Any]:
    return {"check_id": w.check_id, "resource_pattern": w.resource_pattern, "justification": w.justification,
            "approver": w.approver, "expires": w.expires, "state": w.state,
            "compensating_control": w.compensating_control, "matched": list(w.matched),
            "approved": w.approved}


def _waiver(body: dict[str, Any]) -> WaiverUse:
    return WaiverUse(**{**body, "matched": tuple(body.get("matched", ()))})


__all__ = ["AttestationFileRow", "AttestationRow", "ReviewRow", "ScopingDecisionRow", "SealRow", "Store",
           "default_url", "scan_parts"]
