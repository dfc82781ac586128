"""What people concluded: scoping decisions (a requirement does not apply) and assessor reviews.

Both are sealed when recorded (compliance.seal) and refused if their rows are edited later.

- A scoping decision is the only way, besides an assessor's review, to make a requirement Not
  Applicable: the tool never infers it from finding no resources. It names who decided, why, and
  optionally until when; an expired decision stops counting.
- A review is an assessor's conclusion on one requirement of one stored scan: In Place, Not in Place
  or Not Applicable, by a named person, with a note. It is the only way a requirement that is not fully
  automated becomes In Place. Reviews are kept apart from the scan (whose rows are sealed as saved) and
  laid over its results when the scan is read (`with_reviews`); the latest review of a requirement wins.
  With `--signing-key` the assessor also signs the review with their own key, and its fingerprint is
  shown beside the conclusion.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select

from compliance import keys, seal
from compliance.errors import UsageError
from compliance.frameworks import load
from compliance.scan import Basis, RequirementResult, RocResult, Scan
from compliance.store import ReviewRow, ScopingDecisionRow, Store

REVIEW_RESULTS = {
    "in-place": RocResult.IN_PLACE,
    "not-in-place": RocResult.NOT_IN_PLACE,
    "not-applicable": RocResult.NOT_APPLICABLE,
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _parse(stamp: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(stamp)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class ScopingDecision:
    id: str
    framework: str
    requirement_id: str
    justification: str
    decided_by: str
    created_at: str
    expires_at: str = ""

    def active(self, at: dt.datetime) -> bool:
        return not self.expires_at or at < _parse(self.expires_at)

    def parts(self) -> dict[str, Any]:
        return {
            "decision": {
                "id": self.id,
                "framework": self.framework,
                "requirement_id": self.requirement_id,
                "justification": self.justification,
                "decided_by": self.decided_by,
                "created_at": self.created_at,
                "expires_at": self.expires_at,
            }
        }


def add_decision(
    store: Store,
    framework_id: str,
    requirement_id: str,
    justification: str,
    decided_by: str,
    expires_at: dt.datetime | None = None,
    now: dt.datetime | None = None,
    signer: keys.Signer | None = None,
) -> ScopingDecision:
    now = now or _now()
    load(framework_id).requirement(requirement_id)
    if not justification.strip():
        raise UsageError(
            "a scoping decision needs a --justification saying why the requirement does not apply"
        )
    if not decided_by.strip():
        raise UsageError("a scoping decision needs the name of who decided (--by)")
    if expires_at is not None and expires_at <= now:
        raise UsageError(f"expiry {expires_at.isoformat(timespec='seconds')} is not in the future")
    decision = ScopingDecision(
        uuid.uuid4().hex[:12],
        framework_id,
        requirement_id,
        justification.strip(),
        decided_by.strip(),
        now.isoformat(timespec="seconds"),
        expires_at.isoformat(timespec="seconds") if expires_at else "",
    )
    row = ScopingDecisionRow(
        id=decision.id,
        framework=decision.framework,
        requirement_id=decision.requirement_id,
        justification=decision.justification,
        decided_by=decision.decided_by,
        created_at=decision.created_at,
        expires_at=decision.expires_at,
    )
    store.add_sealed(row, "scoping", decision.id, decision.parts(), signer)
    return decision


def list_decisions(
    store: Store, framework_id: str | None = None, *, trusted: keys.PublicKey | None = None
) -> list[ScopingDecision]:
    """Every recorded decision, each verified against its seal (IntegrityError if one was edited)."""
    query = select(ScopingDecisionRow).order_by(ScopingDecisionRow.created_at, ScopingDecisionRow.id)
    if framework_id:
        query = query.where(ScopingDecisionRow.framework == framework_id)
    with store.session() as db:
        found = [
            ScopingDecision(
                r.id, r.framework, r.requirement_id, r.justification, r.decided_by, r.created_at, r.expires_at
            )
            for r in db.scalars(query)
        ]
    if found:
        trusted = trusted or seal.trusted_key()
        for d in found:
            store.verify("scoping", d.id, d.parts(), f"scoping decision {d.id} ({d.requirement_id})", trusted)
    return found


def active_decisions(store: Store, at: dt.datetime | None = None) -> list[ScopingDecision]:
    at = at or _now()
    return [d for d in list_decisions(store) if d.active(at)]


@dataclass(frozen=True)
class Review:
    id: str
    scan_id: str
    framework: str
    requirement_id: str
    result: RocResult
    assessor: str
    note: str
    created_at: str
    signature: dict | None = None

    def body(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "scan_id": self.scan_id,
            "framework": self.framework,
            "requirement_id": self.requirement_id,
            "result": self.result.value,
            "assessor": self.assessor,
            "note": self.note,
            "created_at": self.created_at,
        }

    def parts(self) -> dict[str, Any]:
        return {"review": self.body(), "assessor_signature": self.signature}

    @property
    def signed_by(self) -> str:
        return str((self.signature or {}).get("key_fingerprint") or "")


def assessor_signature(body: dict[str, Any], signer: keys.Signer) -> dict[str, Any]:
    public = signer.public_key()
    return {
        "algorithm": signer.algorithm,
        "key_fingerprint": keys.fingerprint(public),
        "public_key": keys.public_pem(public).decode(),
        "signature": signer.sign(keys.statement(seal.canonical(body))).decode("ascii"),
    }


def signature_holds(review: Review) -> bool:
    """True when the review carries no assessor signature, or one that verifies over its body."""
    if not review.signature:
        return True
    public = keys.public_from_pem(review.signature.get("public_key") or "")
    return (
        public is not None
        and keys.fingerprint(public) == review.signature.get("key_fingerprint")
        and keys.verify_signature(
            public,
            str(review.signature.get("signature", "")).encode("ascii", "replace"),
            keys.statement(seal.canonical(review.body())),
        )
    )


def add_review(
    store: Store,
    scan: Scan,
    framework_id: str,
    requirement_id: str,
    result: str,
    assessor: str,
    note: str = "",
    assessor_key: keys.Signer | None = None,
    now: dt.datetime | None = None,
    signer: keys.Signer | None = None,
) -> Review:
    """Record an assessor's conclusion on a requirement of a stored (and verified) scan."""
    now = now or _now()
    load(framework_id).requirement(requirement_id)
    if result not in REVIEW_RESULTS:
        raise UsageError(f"--result {result!r}: expected one of {', '.join(REVIEW_RESULTS)}")
    if not assessor.strip():
        raise UsageError("a review needs the assessor's name (--assessor)")
    if not any(
        r.framework == framework_id and r.requirement_id == requirement_id for r in scan.requirement_results
    ):
        raise UsageError(
            f"scan {scan.id} has no result for {framework_id} {requirement_id}: "
            "it was not assessed against that framework"
        )
    review = Review(
        uuid.uuid4().hex[:12],
        scan.id,
        framework_id,
        requirement_id,
        REVIEW_RESULTS[result],
        assessor.strip(),
        note.strip(),
        now.isoformat(timespec="seconds"),
    )
    if assessor_key is not None:
        review = replace(review, signature=assessor_signature(review.body(), assessor_key))
    row = ReviewRow(
        id=review.id,
        scan_id=review.scan_id,
        framework=review.framework,
        requirement_id=review.requirement_id,
        result=review.result.value,
        assessor=review.assessor,
        note=review.note,
        created_at=review.created_at,
        signature=review.signature,
    )
    store.add_sealed(row, "review", review.id, review.parts(), signer)
    return review


def list_reviews(store: Store, scan_id: str, *, trusted: keys.PublicKey | None = None) -> list[Review]:
    """A scan's reviews, oldest first, each verified against its seal and its assessor signature."""
    query = select(ReviewRow).where(ReviewRow.scan_id == scan_id).order_by(ReviewRow.created_at, ReviewRow.id)
    with store.session() as db:
        found = [
            Review(
                r.id,
                r.scan_id,
                r.framework,
                r.requirement_id,
                RocResult(r.result),
                r.assessor,
                r.note,
                r.created_at,
                r.signature,
            )
            for r in db.scalars(query)
        ]
    if found:
        trusted = trusted or seal.trusted_key()
    for review in found:
        label = f"review {review.id} of {review.requirement_id} on scan {scan_id}"
        store.verify("review", review.id, review.parts(), label, trusted)
        if not signature_holds(review):
            from compliance.errors import IntegrityError

            raise IntegrityError(f"{label}: the assessor's signature does not verify: refusing to use it")
    return found


def apply_reviews(results: Sequence[RequirementResult], reviews: Iterable[Review]) -> list[RequirementResult]:
    """Results with each reviewed requirement concluded by its latest review (basis assessed). Pure."""
    latest = {(r.framework, r.requirement_id): r for r in reviews}
    out = []
    for res in results:
        review = latest.get((res.framework, res.requirement_id))
        if review is None:
            out.append(res)
            continue
        signed = f", signed by key {review.signed_by}" if review.signed_by else ""
        note = f": {review.note}" if review.note else ""
        detail = (
            f"assessed by {review.assessor} on {review.created_at[:10]}{signed}{note} "
            f"(before review: {res.result.value}, {res.basis.value}: {res.detail})"
        )
        out.append(
            replace(
                res,
                result=review.result,
                detail=detail,
                basis=Basis.ASSESSED,
                decision_ids=(*res.decision_ids, review.id),
            )
        )
    return out


def with_reviews(store: Store, scan: Scan, *, trusted: keys.PublicKey | None = None) -> Scan:
    """The scan with its assessors' reviews laid over its sealed results."""
    reviews = list_reviews(store, scan.id, trusted=trusted)
    if reviews:
        scan.requirement_results = apply_reviews(scan.requirement_results, reviews)
    return scan
