"""`comply checks list`: every check the scanner has, with its target, service, severity, title and the
requirements it is evidence for, named as AWS Security Hub names them (``PCI DSS v4.0.1/10.3.2``)."""

from __future__ import annotations

import json

import typer
from rich.console import Console
from rich.table import Table

from compliance.errors import UsageError
from compliance.frameworks import requirement_refs
from compliance.selection import service_of
from controls.registry import Check, all_checks

checks_app = typer.Typer(help="The checks the scanner runs.", no_args_is_help=True)


def describe(check: Check) -> dict[str, object]:
    return {"id": check.id, "target": check.target, "service": service_of(check),
            "severity": check.severity.label, "title": check.title,
            "requirements": list(requirement_refs(check.id))}


@checks_app.command("list")
def list_checks(
    target: str | None = typer.Option(None, "--target", help="Only this target's checks (aws, kubernetes)."),
    format: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """List every check: id, target, service, severity, title and requirements."""
    if format not in ("table", "json"):
        raise UsageError(f"--format must be table or json, got {format!r}")
    checks = all_checks()
    targets = sorted({c.target for c in checks})
    if target is not None and target not in targets:
        raise UsageError(f"unknown target {target!r}: expected one of {', '.join(targets)}")
    rows = [describe(c) for c in checks if target is None or c.target == target]
    if format == "json":
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(rows)} checks", title_justify="left")
    for column in ("id", "target", "service", "severity", "title", "requirements"):
        table.add_column(column, overflow="fold")
    for row in rows:
        refs = [str(r) for r in row["requirements"]]  # type: ignore[attr-defined]
        table.add_row(str(row["id"]), str(row["target"]), str(row["service"]), str(row["severity"]),
                      str(row["title"]), ", ".join(refs))
    Console().print(table)


def register(app: typer.Typer) -> None:
    app.add_typer(checks_app, name="checks")
