"""`comply review REQ_ID ...` records an assessor's conclusion on a stored scan; `comply scope
not-applicable REQ_ID ...` records a scoping decision; `comply scope list` shows them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer

from compliance import keys
from compliance.cli.history import Db, SigningKey, load_verified
from compliance.decisions import REVIEW_RESULTS, add_decision, add_review, list_decisions
from compliance.errors import UsageError
from compliance.frameworks import framework_of, load
from compliance.store import Store, default_url

Framework = Annotated[str | None, typer.Option(
    "--framework", "-f", help="Catalog id; inferred from the requirement id if omitted.")]
StoreKey = Annotated[str | None, typer.Option(
    "--store-key", help="The key that seals the store (PEM or kms:KEY_ARN; default: $COMPLY_SIGNING_KEY, "
                        "else your own key).")]
Requirement = Annotated[str, typer.Argument(metavar="REQ_ID", help="Requirement id: 12.10.1, A.5.24 ...")]

scope_app = typer.Typer(help="Scoping decisions: the only way, besides a review, to Not Applicable.",
                        no_args_is_help=True)


def review(
    requirement: Requirement,
    result: Annotated[str, typer.Option("--result", help="in-place, not-in-place or not-applicable.")],
    assessor: Annotated[str, typer.Option("--assessor", help="The assessor's name (and company).")],
    framework: Framework = None,
    note: Annotated[str, typer.Option("--note", help="What the assessor examined and concluded.")] = "",
    scan_id: Annotated[str, typer.Option("--scan", help="Scan id the review concludes on, or 'latest'.")]
    = "latest",
    signing_key: Annotated[str | None, typer.Option(
        "--signing-key", help="The assessor's own key (PEM or kms:KEY_ARN): the review is signed with it "
                              "and its fingerprint shown beside the conclusion.")] = None,
    store_key: StoreKey = None,
    db: Db = None,
) -> None:
    """Record an assessor's conclusion on one requirement of a stored scan: the only way a requirement
    that is not fully automated becomes In Place."""
    if result not in REVIEW_RESULTS:
        raise UsageError(f"--result {result!r}: expected one of {', '.join(REVIEW_RESULTS)}")
    fw = load(framework) if framework else framework_of(requirement)
    store = Store(db or default_url())
    scan = load_verified(store, scan_id, store_key)
    assessor_key = keys.signer(signing_key) if signing_key else None
    sealer = keys.signer(store_key) if store_key else None
    done = add_review(store, scan, fw.id, requirement, result, assessor, note, assessor_key, signer=sealer)
    signed = f", signed by key {done.signed_by}" if done.signed_by else " (unsigned: no --signing-key)"
    typer.echo(f"review {done.id}: {fw.ref(requirement)} on scan {scan.id}: {done.result.value} by "
               f"{done.assessor} on {done.created_at[:10]}{signed}")


@scope_app.command("not-applicable")
def not_applicable(
    requirement: Requirement,
    justification: Annotated[str, typer.Option("--justification", help="Why it does not apply.")],
    by: Annotated[str, typer.Option("--by", help="Who decided.")],
    framework: Framework = None,
    expires: Annotated[str | None, typer.Option("--expires", help="Last day it counts (YYYY-MM-DD).")] = None,
    store_key: SigningKey = None,
    db: Db = None,
) -> None:
    """Record that a requirement does not apply to the entity, why and by whom (sealed when recorded)."""
    fw = load(framework) if framework else framework_of(requirement)
    until = None
    if expires is not None:
        try:
            day = dt.date.fromisoformat(expires)
        except ValueError:
            raise UsageError(f"--expires must be a date like 2026-06-30, got {expires!r}") from None
        until = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC).replace(microsecond=0)
    sealer = keys.signer(store_key) if store_key else None
    store = Store(db or default_url())
    done = add_decision(store, fw.id, requirement, justification, by, until, signer=sealer)
    typer.echo(f"scoping decision {done.id}: {fw.ref(requirement)} Not Applicable, by {done.decided_by}"
               + (f", until {done.expires_at[:10]}" if done.expires_at else ", no end date")
               + "; it applies to scans from now on")


@scope_app.command("list")
def list_cmd(
    framework: Annotated[str | None, typer.Option("--framework", "-f", help="Only this catalog.")] = None,
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
    store_key: SigningKey = None,
    db: Db = None,
) -> None:
    """Every recorded scoping decision (each verified against its seal)."""
    if output not in ("text", "json"):
        raise UsageError(f"unknown output format {output!r}: expected text or json")
    if framework:
        load(framework)
    from compliance import seal

    found = list_decisions(Store(db or default_url()), framework, trusted=seal.trusted_key(store_key))
    if output == "json":
        typer.echo(json.dumps([d.parts()["decision"] for d in found], indent=2))
        return
    if not found:
        typer.echo("no scoping decisions")
    for d in found:
        typer.echo(f"{d.id} {d.framework} {d.requirement_id}: not applicable, by {d.decided_by} on "
                   f"{d.created_at[:10]} until {d.expires_at[:10] or 'no end date'}: {d.justification}")


def register(app: typer.Typer) -> None:
    app.command("review")(review)
    app.add_typer(scope_app, name="scope")
