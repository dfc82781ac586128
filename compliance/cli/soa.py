"""`comply soa [SCAN_ID] --out DIR [--decisions FILE]` and `comply soa init`: the Statement of Applicability.

`init` is taken as the sub-command, not a scan id (scan ids are hexadecimal): one command keeps
`comply soa` (latest scan) and `comply soa init` both working without a group swallowing the id.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compliance.cli.history import Db, load_verified
from compliance.errors import UsageError
from compliance.soa import DEFAULT_FILE


def soa(
    scan_id: Annotated[str, typer.Argument(
        help="Scan id, 'latest' (default), or 'init' to write a decisions file to edit.")] = "latest",
    out: Annotated[Path, typer.Option("--out", "-o", help="Directory for soa.csv, soa.html, soa.pdf "
                                                          "and the evidence pack.")] = Path("soa"),
    decisions: Annotated[Path, typer.Option(
        "--decisions", help="The organisation's applicability decisions (YAML); `init` writes it.")]
        = Path(DEFAULT_FILE),
    force: Annotated[bool, typer.Option("--force", help="init: overwrite an existing decisions file.")]
        = False,
    db: Db = None,
    signing_key: Annotated[str | None, typer.Option(
        "--signing-key", help="The key that sealed the store and signs the evidence pack (default: "
                              "$COMPLY_SIGNING_KEY, else your own key).")] = None,
    organisation: Annotated[str | None, typer.Option(
        "--organisation", envvar="COMPLY_ORGANISATION",
        help="Organisation named on the SoA (default: the one stored with the scan).")] = None,
) -> None:
    """Write the ISO/IEC 27001:2022 Statement of Applicability: all 93 Annex A controls."""
    if scan_id == "init":
        _init(decisions, force)
        return
    from compliance.soa import build_soa, load_decisions
    from compliance.store import Store, default_url
    from reports import write_reports
    from reports.soa import render_soa
    from reports.workpapers import evidence_index

    chosen = load_decisions(decisions)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory")
    store = Store(db or default_url())
    scan = load_verified(store, scan_id, signing_key)
    refs = {e.record.id: e.ref for e in evidence_index(scan)}
    rows = build_soa(scan, chosen, refs)
    files = render_soa(rows, chosen, scan, organisation)
    try:
        out.mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (out / name).write_bytes(data)
    except OSError as exc:
        raise UsageError(f"cannot write to {out}: {exc.strerror or exc}") from None
    for name in files:
        typer.echo(f"wrote {out / name}")
    pack = write_reports(scan, ["evidence"], out, signing_key=signing_key, organisation=organisation,
                         store=store, extra_files={f"soa/{n}": d for n, d in files.items()})
    for path in pack:
        typer.echo(f"wrote {path} (with the SoA under soa/)")
    if not chosen.approved:
        typer.echo("warning: the SoA is not approved: set approval.approver and approval.date in "
                   f"{decisions}", err=True)


def _init(path: Path, force: bool) -> None:
    from compliance.soa import init_text

    if path.exists() and not force:
        raise UsageError(f"{path} exists: edit it, or pass --force to start again")
    try:
        path.write_text(init_text(), encoding="utf-8")
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}") from None
    typer.echo(f"wrote {path}: 93 Annex A controls, all applicable; edit the justifications, exclude "
               "what does not apply (with a reason) and fill in the approval")


def register(app: typer.Typer) -> None:
    app.command("soa")(soa)
