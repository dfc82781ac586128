"""`comply evidence verify PACK`: prove an evidence pack untouched since it was signed."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compliance.evidence import verify_pack

evidence_app = typer.Typer(help="Evidence packs.", no_args_is_help=True)


@evidence_app.command("verify")
def verify(
    pack: Annotated[Path, typer.Argument(help="The evidence.zip to check.")],
    public_key: Annotated[Path | None, typer.Option(
        "--public-key", help="Signer's Ed25519 public key (PEM). Default: yours, then signing-key.pub "
                             "beside the pack.")] = None,
) -> None:
    """Exit 0 if every file's hash and the signature hold; 1 naming what changed; 2 if it is not a pack."""
    result = verify_pack(pack, public_key)
    if result.ok:
        typer.echo(f"OK: {pack}: scan {result.scan_id}, {result.files} files match the manifest; "
                   f"signature verified with {result.key_source} ({result.key_fingerprint})")
        return
    typer.echo(f"FAILED: {pack}: {len(result.problems)} problem(s)", err=True)
    for problem in result.problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.add_typer(evidence_app, name="evidence")
