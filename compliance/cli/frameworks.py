"""`comply frameworks list|show|coverage`: the catalogs as an assessor reads them."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from compliance.frameworks import TESTING_KINDS, Framework, Requirement, all_frameworks, load

frameworks_app = typer.Typer(help="Framework catalogs: requirements, mapped checks and coverage.",
                             no_args_is_help=True)


class Format(StrEnum):
    table = "table"
    json = "json"


FORMAT = typer.Option(Format.table, "--format", help="table (Rich) or json (plain JSON on stdout).")


def _json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


def _req_dict(fw: Framework, req: Requirement) -> dict[str, Any]:
    return {**asdict(req), "checks": list(req.checks), "ref": fw.ref(req.id)}


def _summary(fw: Framework) -> dict[str, Any]:
    return {"id": fw.id, "name": fw.name, "version": fw.version, "label": fw.label,
            "catalog_version": fw.catalog_version, "requirements": len(fw.requirements),
            "checks": len({c for req in fw.requirements for c in req.checks})}


@frameworks_app.command("list")
def list_frameworks(fmt: Format = FORMAT) -> None:
    """The catalogs this tool assesses against."""
    rows = [_summary(fw) for fw in all_frameworks()]
    if fmt is Format.json:
        return _json(rows)
    table = Table(title="Framework catalogs")
    for col in ("id", "standard", "requirements", "mapped checks", "catalog version"):
        table.add_column(col)
    for row in rows:
        table.add_row(row["id"], row["label"], str(row["requirements"]), str(row["checks"]),
                      row["catalog_version"])
    Console().print(table)
    return None


def _requirements_table(fw: Framework, reqs: tuple[Requirement, ...], title: str) -> Table:
    table = Table(title=title)
    table.add_column("Requirement", no_wrap=True)
    table.add_column("Title")
    table.add_column("Testing")
    table.add_column("Checks")
    for req in reqs:
        table.add_row(req.id, req.title, req.testing, "\n".join(req.checks) or "-")
    return table


@frameworks_app.command("show")
def show(framework: str = typer.Argument(..., help="Catalog id, e.g. pci-dss-4.0.1."),
         requirement: str | None = typer.Option(None, "--requirement", "-r", help="One requirement id."),
         fmt: Format = FORMAT) -> None:
    """A catalog's requirements, or one requirement with the checks that test it."""
    fw = load(framework)
    reqs = (fw.requirement(requirement),) if requirement else fw.requirements
    if fmt is Format.json:
        body = [_req_dict(fw, r) for r in reqs]
        return _json(body[0] if requirement else {**_summary(fw), "requirements": body})
    Console().print(_requirements_table(fw, reqs, f"{fw.label} ({fw.id}, catalog {fw.catalog_version})"))
    return None


def coverage_counts(fw: Framework) -> list[dict[str, Any]]:
    """Per principal requirement: how many requirements are automated, partial or manual."""
    rows = []
    for principal in fw.principals:
        reqs = fw.under(principal.id)
        rows.append({"principal": principal.id, "title": principal.title, "total": len(reqs),
                     **{kind: sum(r.testing == kind for r in reqs) for kind in TESTING_KINDS}})
    return rows


@frameworks_app.command("coverage")
def coverage(framework: str = typer.Argument(..., help="Catalog id, e.g. pci-dss-4.0.1."),
             summary: bool = typer.Option(False, "--summary", help="Only the per-principal counts."),
             fmt: Format = FORMAT) -> None:
    """How much of a catalog the checks test: automated, partial and manual, per principal requirement."""
    fw = load(framework)
    counts = coverage_counts(fw)
    if fmt is Format.json:
        return _json({**_summary(fw), "principals": counts,
                      "requirements": [_req_dict(fw, r) for r in fw.requirements]})
    table = Table(title=f"{fw.label}: how each requirement is tested")
    table.add_column("Req", no_wrap=True)
    table.add_column("Principal requirement")
    for col in (*TESTING_KINDS, "total"):
        table.add_column(col, justify="right")
    for row in counts:
        table.add_row(row["principal"], row["title"], *(str(row[k]) for k in (*TESTING_KINDS, "total")))
    table.add_section()
    table.add_row("", "All", *(str(sum(row[k] for row in counts)) for k in (*TESTING_KINDS, "total")))
    console = Console()
    console.print(table)
    if not summary:
        console.print(_requirements_table(fw, fw.requirements, f"{fw.label}: every requirement"))
    return None


def register(app: typer.Typer) -> None:
    app.add_typer(frameworks_app, name="frameworks")
