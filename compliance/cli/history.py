"""`comply scans list|show` and `comply diff OLD NEW`: what was scanned before and what changed."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from compliance.errors import UsageError
from compliance.store import Store, default_url
from reports.history import ScanDiff, diff_scans, scan_summary

DB_HELP = "Database URL (default: $COMPLY_DB or the user's SQLite file)."
Db = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
Output = Annotated[str, typer.Option("--format", help="text or json")]
ScanId = Annotated[str, typer.Argument(help="Scan id, or 'latest'.")]
OUTPUT_FORMATS = ("text", "json")

scans_app = typer.Typer(help="Stored scans.", no_args_is_help=True)


def _fmt(value: str) -> str:
    if value not in OUTPUT_FORMATS:
        raise UsageError(f"unknown output format {value!r}: expected text or json")
    return value


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def resolve(store: Store, scan_id: str) -> str:
    if scan_id == "latest":
        latest = store.latest_scan_id()
        if latest is None:
            raise UsageError(f"no scans in {store.url}")
        return latest
    return scan_id


@scans_app.command("list")
def list_scans(db: Db = None, output: Output = "text") -> None:
    """Every stored scan, newest first."""
    output = _fmt(output)
    store = Store(db or default_url())
    rows = [{"id": r.id, "target": r.target, "started_at": r.started_at, "finished_at": r.finished_at,
             "tool_version": r.tool_version, "scope": r.scope} for r in store.list_scans()]
    if output == "json":
        _print_json(rows)
        return
    if not rows:
        typer.echo(f"no scans in {store.url}")
        return
    table = Table("Scan", "Target", "Started (UTC)", "Finished (UTC)", "Scope")
    for r in rows:
        scope = ", ".join(f"{k}={v}" for k, v in r["scope"].items() if v)
        table.add_row(r["id"], r["target"], r["started_at"], r["finished_at"] or "", scope)
    Console(width=160).print(table)


@scans_app.command("show")
def show_scan(scan_id: ScanId, db: Db = None, output: Output = "text") -> None:
    """One scan: scope, identity, finding counts and requirement results."""
    output = _fmt(output)
    store = Store(db or default_url())
    summary = scan_summary(store.load_scan(resolve(store, scan_id)))
    if output == "json":
        _print_json(summary)
        return
    lines = [f"scan {summary['id']} ({summary['target']}), comply {summary['tool_version']}",
             f"  started {summary['started_at']}, finished {summary['finished_at'] or 'not recorded'}",
             f"  scope: {json.dumps(summary['scope'], sort_keys=True)}",
             f"  run by: {summary['identity'].get('Arn', 'not recorded')}",
             "  findings: " + ", ".join(f"{k} {v}" for k, v in summary["findings"].items())
             + f" ({summary['unwaived_failures']} unwaived failures)"]
    for framework, counts in summary["requirement_results"].items():
        lines.append(f"  {framework}: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))
    typer.echo("\n".join(lines))


def _print_diff(diff: ScanDiff) -> None:
    typer.echo(f"diff {diff.old} -> {diff.new}: {len(diff.new_failures)} new, {len(diff.resolved)} resolved, "
               f"{len(diff.still_failing)} still failing")
    for title, findings in (("new failures", diff.new_failures), ("resolved", diff.resolved),
                            ("still failing", diff.still_failing)):
        if findings:
            typer.echo(f"{title}:")
            for f in findings:
                typer.echo(f"  [{f.severity.label}] {f.check_id} {f.resource_id}: {f.reason}")


def diff(old: Annotated[str, typer.Argument(help="The earlier scan id.")],
         new: ScanId, db: Db = None, output: Output = "text") -> None:
    """New failures, resolved failures and those still failing between two scans."""
    output = _fmt(output)
    store = Store(db or default_url())
    result = diff_scans(store.load_scan(resolve(store, old)), store.load_scan(resolve(store, new)))
    if output == "json":
        _print_json(result.as_dict())
    else:
        _print_diff(result)


def register(app: typer.Typer) -> None:
    app.add_typer(scans_app, name="scans")
    app.command("diff")(diff)
