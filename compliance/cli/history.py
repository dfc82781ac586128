"""`comply scans list|show` and `comply diff OLD NEW`: what was scanned before and what changed."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from compliance.errors import UsageError
from compliance.scan import Scan
from compliance.store import Store, default_url
from reports.history import CATEGORIES, ScanDiff, diff_scans, scan_summary

DB_HELP = "Database URL (default: $COMPLY_DB or the user's SQLite file)."
Db = Annotated[str | None, typer.Option("--db", help=DB_HELP)]
Output = Annotated[str, typer.Option("--format", help="text or json")]
ScanId = Annotated[str, typer.Argument(help="Scan id, or 'latest'.")]
SigningKey = Annotated[str | None, typer.Option(
    "--signing-key", help="The key that sealed the store: a PEM private key or kms:KEY_ARN (default: "
                          "$COMPLY_SIGNING_KEY, else your own key).")]
OUTPUT_FORMATS = ("text", "json")

scans_app = typer.Typer(help="Stored scans.", no_args_is_help=True)


def _fmt(value: str) -> str:
    if value not in OUTPUT_FORMATS:
        raise UsageError(f"unknown output format {value!r}: expected text or json")
    return value


def _print_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2, ensure_ascii=False))


def load_verified(store: Store, scan_id: str, signing_key: str | None = None) -> Scan:
    """The stored scan, refused (exit 1) unless it and its reviews match their seals, with the
    assessors' reviews laid over its results."""
    from compliance import seal
    from compliance.decisions import with_reviews

    trusted = seal.trusted_key(signing_key)
    scan = store.load_scan(resolve(store, scan_id), trusted=trusted)
    return with_reviews(store, scan, trusted=trusted)


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
def show_scan(scan_id: ScanId, db: Db = None, output: Output = "text",
              signing_key: SigningKey = None) -> None:
    """One scan: scope, identity, finding counts and requirement results (after verifying its seal)."""
    output = _fmt(output)
    store = Store(db or default_url())
    summary = scan_summary(load_verified(store, scan_id, signing_key))
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
    if diff.scope_changed:
        old, new = diff.scopes["old"], diff.scopes["new"]
        typer.echo(f"WARNING: the scope changed between {diff.old} and {diff.new}; findings outside the "
                   "common scope are not comparable:")
        for change in diff.scope_changes:
            typer.echo(f"  {change}")
        for label, scope in (("old", old), ("new", new)):
            listed = {k: ", ".join(scope[k]) or "-" for k in ("accounts", "regions", "frameworks")}
            typer.echo(f"  {label} scope: accounts {listed['accounts']}; regions {listed['regions']}; "
                       f"frameworks {listed['frameworks']}; {len(scope['checks'] or ())} checks")
    counts = ", ".join(f"{len(diff.items[name])} {name.replace('_', ' ')}" for name in CATEGORIES)
    typer.echo(f"diff {diff.old} -> {diff.new}: {counts}")
    for name in CATEGORIES:
        if diff.items[name]:
            typer.echo(f"{name.replace('_', ' ')}:")
            for f in diff.items[name]:
                waived = f" (waived: {f.suppressed_by})" if name == "waived" and f.suppressed_by else ""
                typer.echo(f"  [{f.severity.label}] {f.check_id} {f.resource_id}: {f.reason}{waived}")


def diff(old: Annotated[str, typer.Argument(help="The earlier scan id.")],
         new: ScanId, db: Db = None, output: Output = "text", signing_key: SigningKey = None) -> None:
    """Every failing finding of either scan: new, fixed, waived, gone, still failing (or not assessed),
    with a warning first when the two scans' scopes differ."""
    output = _fmt(output)
    store = Store(db or default_url())
    result = diff_scans(load_verified(store, old, signing_key), load_verified(store, new, signing_key))
    if output == "json":
        _print_json(result.as_dict())
    else:
        _print_diff(result)


def register(app: typer.Typer) -> None:
    app.add_typer(scans_app, name="scans")
    app.command("diff")(diff)
