"""`comply attest REQ_ID ...` records a manual attestation; `comply attest list` shows them."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict
from enum import StrEnum
from pathlib import Path

import click
import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

from compliance.attestations import add_attestation, list_attestations
from compliance.errors import UsageError
from compliance.frameworks import framework_of, load
from compliance.store import Store, default_url


class _AddUnlessNamed(TyperGroup):
    """`comply attest 10.3.2 ...` means `comply attest add 10.3.2 ...`; `list` stays a subcommand."""

    def resolve_command(self, ctx: click.Context, args: list[str]):  # type: ignore[no-untyped-def]
        if args and args[0] not in self.commands and not args[0].startswith("-"):
            args = ["add", *args]
        return super().resolve_command(ctx, args)


attest_app = typer.Typer(cls=_AddUnlessNamed, no_args_is_help=True,
                         help="Manual attestations: evidence a person vouches for, with an expiry. "
                              "`comply attest REQ_ID ...` is short for `comply attest add REQ_ID ...`.")


class Format(StrEnum):
    table = "table"
    json = "json"


DB = typer.Option(None, "--db", help="Store URL (default: $COMPLY_DB or a local SQLite file).")
EVIDENCE = typer.Option(..., "--evidence", "-e", help="Evidence file (repeatable).")
FORMAT = typer.Option(Format.table, "--format", help="table (Rich) or json (plain JSON on stdout).")


MAX_VALID_DAYS = 3650


def _expiry(now: dt.datetime, valid_days: int | None, expires: str | None) -> dt.datetime:
    if valid_days is not None and expires is not None:
        raise UsageError("give either --valid-days or --expires, not both")
    if valid_days is not None and not 1 <= valid_days <= MAX_VALID_DAYS:
        raise UsageError(f"--valid-days must be between 1 and {MAX_VALID_DAYS} (ten years), got {valid_days}")
    if expires is None:
        return now + dt.timedelta(days=365 if valid_days is None else valid_days)
    try:
        day = dt.date.fromisoformat(expires)
    except ValueError:
        raise UsageError(f"--expires must be a date like 2026-06-30, got {expires!r}") from None
    return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC).replace(microsecond=0)


@attest_app.command("add")
def add(requirement: str = typer.Argument(..., metavar="REQ_ID", help="Requirement id: 12.10.1, A.5.24 ..."),
        framework: str | None = typer.Option(None, "--framework", "-f",
                                             help="Catalog id; inferred from the requirement id if omitted."),
        evidence: list[Path] = EVIDENCE,
        by: str = typer.Option(..., "--by", help="Who attests."),
        note: str = typer.Option(..., "--note", help="What the evidence shows."),
        valid_days: int | None = typer.Option(None, "--valid-days", help="Days it counts (default 365)."),
        expires: str | None = typer.Option(None, "--expires", help="Last day it counts (YYYY-MM-DD)."),
        db: str | None = DB) -> None:
    """Record a manual attestation; its evidence files are copied into the store with their SHA-256."""
    fw = load(framework) if framework else framework_of(requirement)
    now = dt.datetime.now(dt.UTC)
    att = add_attestation(Store(db or default_url()), fw.id, requirement, evidence, by, note,
                          _expiry(now, valid_days, expires), now=now)
    typer.echo(f"attestation {att.id}: {fw.ref(requirement)} by {att.attested_by}, "
               f"{len(att.files)} file(s), expires {att.expires_at}")


@attest_app.command("list")
def list_cmd(framework: str | None = typer.Option(None, "--framework", "-f", help="Only this catalog."),
             fmt: Format = FORMAT,
             db: str | None = DB) -> None:
    """Every stored attestation, active or expired."""
    if framework:
        load(framework)
    now = dt.datetime.now(dt.UTC)
    atts = list_attestations(Store(db or default_url()), framework)
    if fmt is Format.json:
        typer.echo(json.dumps([{**asdict(a), "files": list(a.files), "state": a.state(now)} for a in atts],
                              indent=2))
        return
    table = Table(title="Attestations")
    for col in ("id", "framework", "requirement", "by", "created", "expires", "state", "files"):
        table.add_column(col)
    for a in atts:
        files = "\n".join(f"{f['name']} {f['sha256'][:12]}" for f in a.files)
        table.add_row(a.id, a.framework, a.requirement_id, a.attested_by, a.created_at[:19],
                      a.expires_at[:19], a.state(now), files)
    Console().print(table if atts else "no attestations")


def register(app: typer.Typer) -> None:
    app.add_typer(attest_app, name="attest")
