"""`comply evidence verify PACK` and `comply evidence key`: check a pack against a pinned signer, and
show the fingerprint an assessor pins."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from compliance import keys
from compliance.errors import UsageError
from compliance.evidence import verify_pack

evidence_app = typer.Typer(help="Evidence packs and the key that signs them.", no_args_is_help=True)

EXIT_ALTERED, EXIT_UNPINNED = 1, 3


@evidence_app.command("verify")
def verify(
    pack: Annotated[Path, typer.Argument(help="The evidence.zip to check.")],
    public_key: Annotated[
        Path | None,
        typer.Option("--public-key", help="Pin the signer by its public key (PEM), as received out of band."),
    ] = None,
    fingerprint: Annotated[
        str | None,
        typer.Option(
            "--fingerprint",
            help="Pin the signer by its SHA-256 fingerprint (64 hex digits; separators "
            "allowed), as received out of band.",
        ),
    ] = None,
) -> None:
    """Exit 0 only when every byte checks and the signature is by the pinned key; 3 when intact but no
    key was pinned; 1 naming what changed; 2 if it is not a pack."""
    result = verify_pack(pack, public_key, fingerprint)
    if result.ok:
        typer.echo(
            f"OK: {pack}: scan {result.scan_id}, {result.files} files match the manifest; "
            f"signed by the pinned key {result.key_fingerprint} ({result.key_source})"
        )
        return
    if result.intact:
        typer.echo(
            f"UNPINNED: {pack}: scan {result.scan_id}, {result.files} files intact, signed by key "
            f"{result.key_fingerprint}; pin it with --fingerprint (the signer's fingerprint, obtained "
            "out of band) to verify who signed it",
            err=True,
        )
        raise typer.Exit(EXIT_UNPINNED)
    typer.echo(f"FAILED: {pack}: {len(result.problems)} problem(s)", err=True)
    for problem in result.problems:
        typer.echo(f"  {problem}", err=True)
    raise typer.Exit(EXIT_ALTERED)


@evidence_app.command("key")
def key(
    signing_key: Annotated[
        str | None,
        typer.Option(
            "--signing-key",
            help="A PEM private key or kms:KEY_ARN (default: $COMPLY_SIGNING_KEY, else your "
            "own key in the config directory).",
        ),
    ] = None,
    generate: Annotated[
        bool, typer.Option("--generate", help="Create your own key if you have none (never replaces one).")
    ] = False,
    public_out: Annotated[
        Path | None,
        typer.Option("--public-out", help="Also write the public key (PEM) here, to hand to an assessor."),
    ] = None,
) -> None:
    """Show the signing key's fingerprint: what an assessor pins with `evidence verify --fingerprint`."""
    if generate and keys.configured_spec(signing_key) is not None:
        raise UsageError(
            "--generate creates your own default key; it cannot be combined with a configured "
            "--signing-key or $COMPLY_SIGNING_KEY"
        )
    if generate and keys.default_key_path().exists():
        raise UsageError(f"{keys.default_key_path()} already exists: comply never replaces a signing key")
    signer = keys.signer(signing_key, create=generate)
    public = signer.public_key()
    fp = keys.fingerprint(public)
    typer.echo(f"signing key: {signer.source} ({signer.algorithm})")
    typer.echo(f"fingerprint (SHA-256 of the DER public key): {fp}")
    typer.echo(f"read aloud: {keys.grouped(fp)}")
    if public_out is not None:
        try:
            public_out.write_bytes(keys.public_pem(public))
        except OSError as exc:
            raise UsageError(f"cannot write {public_out}: {exc.strerror or exc}") from None
        typer.echo(f"wrote {public_out}")


def register(app: typer.Typer) -> None:
    app.add_typer(evidence_app, name="evidence")
