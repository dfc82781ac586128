"""`comply`: the command line. Each sub-module registers its own commands."""

from __future__ import annotations

import typer
from typer.core import TyperGroup

from compliance import __version__
from compliance.errors import UsageError


class _OneLineErrors(TyperGroup):
    """Bad input anywhere below becomes one line on stderr and exit 2, never a traceback."""

    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except UsageError as exc:
            typer.echo(f"comply: error: {exc}", err=True)
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_OneLineErrors,
    name="comply",
    help="Assess a deployment against PCI DSS v4.0.1 and ISO/IEC 27001:2022 and write audit evidence.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"comply {__version__}")
        raise typer.Exit()


@app.callback()
def _root(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Compliance scanner for payment deployments."""


def _register() -> None:
    from compliance.cli import attest, demo, evidence, frameworks, history, report, scan

    for module in (scan, demo, frameworks, attest, report, evidence, history):
        module.register(app)


_register()


def main() -> None:
    app()
