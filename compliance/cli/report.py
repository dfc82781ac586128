"""`comply report SCAN_ID --format ... --out DIR`: re-render any stored scan."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compliance import keys
from compliance.cli.history import Db, load_verified
from compliance.store import Store, default_url

FORMAT_HELP = "Comma-separated: ocsf, csv, sarif, junit, html, pdf, evidence, or all."


def report(
    scan_id: Annotated[str, typer.Argument(help="Scan id, or 'latest'.")],
    formats: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)] = "html,pdf,ocsf",
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory to write into.")] = Path("reports"),
    db: Db = None,
    signing_key: Annotated[str | None, typer.Option(
        "--signing-key", help="The key that sealed the store and signs the evidence pack: a PEM private key "
                              "or kms:KEY_ARN (default: $COMPLY_SIGNING_KEY, else your own key).")] = None,
    organisation: Annotated[str | None, typer.Option(
        "--organisation", envvar="COMPLY_ORGANISATION",
        help="Organisation name for the cover (default: the one stored with the scan).")] = None,
    preparer: Annotated[str | None, typer.Option(
        "--preparer", envvar="COMPLY_PREPARER",
        help="Assessor or preparer named on the cover and as the PDF's author (default: the one "
             "stored with the scan).")] = None,
) -> None:
    """Render a stored scan's reports (and evidence pack) into a directory."""
    from compliance.outdir import OutputFolder
    from reports import parse_formats, write_reports

    wanted = parse_formats(formats)
    folder = OutputFolder(out)
    if signing_key is not None:
        keys.signer(signing_key)
    store = Store(db or default_url())
    scan = load_verified(store, scan_id, signing_key)
    with folder:
        folder.claim(scan.id)
        staging = folder.staging(scan.id)
        try:
            write_reports(scan, wanted, staging, signing_key=signing_key, organisation=organisation,
                          store=store, preparer=preparer)
            paths = folder.publish(staging, scan.id)
        finally:
            folder.discard(staging)
    for path in paths:
        typer.echo(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("report")(report)
