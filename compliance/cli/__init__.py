"""`comply`: the command line, and the exit contract every command keeps.

Exit codes: 0 ok; 1 an unwaived failure at or above --fail-on (and nothing else); 2 bad input or
usage, one line saying what is wrong, found before any collection; 3 the scan ran but some checks could
not be assessed; 4 an internal error: one line and "run again with --debug", the traceback only with
--debug. No command ends in a traceback by default, and nothing printed carries a database password.

Commands load lazily: `comply --version`, `--help` and a usage error import neither boto3, SQLAlchemy
nor WeasyPrint. A new top-level command is one line in COMMANDS: its modules (each may define
`register(app)`, which is called with the app) and the one-line help shown by `comply --help`.
`comply scan <target>` commands are declared with `@scan_command` in any module listed under "scan".
"""

from __future__ import annotations

import importlib
import os
import sys
import traceback
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import typer
from typer import _click as click  # typer vendors click; its exceptions are these
from typer._coercion import RuntimeParam, build_runtime_param
from typer.core import TyperCommand, TyperGroup, _TyperParameter

from compliance import __version__
from compliance.cli import runtime
from compliance.errors import UsageError

EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 2, 4, 130

COMMANDS: dict[str, tuple[tuple[str, ...], str]] = {
    "scan": (
        ("compliance.cli.scan", "compliance.cli.scan_kubernetes", "compliance.cli.shard"),
        "Scan a deployment and gate on the result.",
    ),
    "shard": (
        ("compliance.cli.scan", "compliance.cli.scan_kubernetes", "compliance.cli.shard"),
        "Run one shard of a scan planned as shards.",
    ),
    "demo": (("compliance.cli.demo",), "Scan an emulated payments deployment with deliberate gaps."),
    "frameworks": (("compliance.cli.frameworks",), "Framework catalogs: requirements, checks, coverage."),
    "checks": (("compliance.cli.checks",), "The checks the scanner runs, with their requirements."),
    "attest": (("compliance.cli.attest",), "Manual attestations: evidence a person vouches for."),
    "report": (("compliance.cli.report",), "Render a stored scan's reports and evidence pack."),
    "soa": (("compliance.cli.soa",), "ISO 27001 Statement of Applicability; `soa init` writes decisions."),
    "evidence": (("compliance.cli.evidence",), "Verify a pack against a pinned key; show yours."),
    "scans": (("compliance.cli.history",), "Stored scans."),
    "diff": (("compliance.cli.history",), "Classify the failing findings of two scans."),
    "review": (("compliance.cli.conclusions",), "Record an assessor's conclusion on a requirement."),
    "scope": (("compliance.cli.conclusions",), "Scoping decisions: requirements that do not apply."),
}


class ComplyGroup(TyperGroup):
    """Loads commands on first use and turns every way a command can end into its exit code."""

    _listing = False
    _loaded: dict[str, click.Command]

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        modules, short = COMMANDS[cmd_name]
        if self._listing:
            return TyperCommand(cmd_name, help=short, short_help=short)
        return _load(cmd_name, modules, ctx)

    def get_params(self, ctx: click.Context) -> list[click.Parameter]:
        params = super().get_params(ctx)
        _defer_coercion(params)
        return params

    def format_help(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        argv, debug = _take_debug(list(sys.argv[1:] if args is None else args))
        runtime.start(debug=debug or bool(os.environ.get("COMPLY_DEBUG")))
        try:
            rv = super().main(args=argv, prog_name=prog_name or "comply", complete_var=complete_var,
                              standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()
            code = EXIT_USAGE
        except click.exceptions.ClickException as exc:
            code = _usage(exc)
        except typer.Abort:
            runtime.error("interrupted")
            code = EXIT_INTERRUPTED
        except UsageError as exc:
            runtime.error(f"error: {exc}")
            code = exc.exit_code
        except Exception as exc:  # the last line of defence: a bug is one line and exit 4
            code = _unexpected(exc)
        finally:
            runtime.stop()
        if standalone_mode:
            sys.exit(code)
        return code


@dataclass(frozen=True)
class _DeferredCoercion(RuntimeParam):
    """Typer builds a pydantic validator for a parameter the first time it processes it, even an unset
    flag (--help, --install-completion) whose None needs none; pydantic then doubles the start-up of a
    usage error. This builds the real validator only when there is a value to coerce."""

    def _coerce_value(self, value: Any, param: Any, ctx: click.Context) -> Any:
        real = build_runtime_param(param.type_descriptor)
        param._runtime_param = real
        return real._coerce_value(value, param=param, ctx=ctx)


def _defer_coercion(params: Sequence[click.Parameter]) -> None:
    for param in params:
        if isinstance(param, _TyperParameter) and param._runtime_param is None:
            descriptor = param.type_descriptor
            param._runtime_param = _DeferredCoercion(descriptor.parameter_info, descriptor.annotation)


def _prepare(command: click.Command, ctx: click.Context) -> None:
    """A loaded command and, for a group, every command under it: coercion deferred, and help in plain
    text (Rich's help panels took 3-4x the start-up budget for `comply scan aws --help`)."""
    _defer_coercion(command.get_params(ctx))
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        _prepare(sub, ctx)


_CACHE: dict[str, click.Command] = {}
_IMPORTED: set[str] = set()


def _load(name: str, modules: tuple[str, ...], ctx: click.Context) -> click.Command | None:
    """Import the command's modules once and keep every command they register."""
    if name not in _CACHE:
        holder = typer.Typer()
        for module_name in modules:
            if module_name in _IMPORTED:
                continue
            _IMPORTED.add(module_name)
            register = getattr(importlib.import_module(module_name), "register", None)
            if register is not None:
                register(holder)
        if holder.registered_commands or holder.registered_groups:
            group = typer.main.get_group(holder)
            for cmd_name in group.list_commands(ctx):
                command = group.get_command(ctx, cmd_name)
                assert command is not None
                _prepare(command, ctx)
                _CACHE.setdefault(cmd_name, command)
    return _CACHE.get(name)


def _take_debug(args: list[str]) -> tuple[list[str], bool]:
    """`--debug` is accepted anywhere before `--`, so the hint "run again with --debug" just works."""
    end = args.index("--") if "--" in args else len(args)
    head = [a for a in args[:end] if a != "--debug"]
    return head + args[end:], len(head) != end


def _usage(exc: click.ClickException) -> int:
    ctx = getattr(exc, "ctx", None)
    where = ctx.command_path if ctx is not None else "comply"
    message = " ".join(exc.format_message().split())
    hint = f" (see '{where} --help')" if isinstance(exc, click.exceptions.UsageError) else ""
    runtime.error(f"error: {message}{hint}", prefix=f"{where}: ")
    return exc.exit_code if exc.exit_code != 1 else EXIT_USAGE


_ENVIRONMENT_ERRORS = ("sqlalchemy.exc.OperationalError", "sqlalchemy.exc.DatabaseError")


def _unexpected(exc: Exception) -> int:
    """Failures of the environment (a disk, the database) are exit 2; anything else is a bug: exit 4."""
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}
    first = " ".join(str(exc).split()) or type(exc).__name__
    if isinstance(exc, OSError) and not isinstance(exc, BrokenPipeError):
        where = f": {exc.filename}" if getattr(exc, "filename", None) else ""
        runtime.error(f"error: {exc.strerror or first}{where}")
        return EXIT_USAGE
    if names & set(_ENVIRONMENT_ERRORS):
        orig = getattr(exc, "orig", None) or exc
        runtime.error(f"error: the store failed: {' '.join(str(orig).split())[:300]}")
        return EXIT_USAGE
    if runtime.debug():
        runtime.error("".join(traceback.format_exception(exc)).rstrip(), prefix="")
        runtime.error(f"internal error: {type(exc).__name__}: {first[:300]}")
    else:
        runtime.error(f"internal error: {type(exc).__name__}: {first[:300]} "
                      "(run again with --debug for the traceback)")
    return EXIT_INTERNAL


app = typer.Typer(
    cls=ComplyGroup,
    name="comply",
    help="Assess a deployment against PCI DSS v4.0.1 and ISO/IEC 27001:2022 and write audit evidence.",
    no_args_is_help=True,
    add_completion=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # plain help: Rich's panels cost more start-up than the 3x budget allows
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"comply {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
    debug: bool = typer.Option(False, "--debug", help="Tracebacks for internal errors and a log of every "
                                                      "API call (accepted anywhere on the command line)."),
) -> None:
    """Compliance scanner for payment deployments.

    Exit codes: 0 ok, 1 failures at or above --fail-on, 2 bad input or usage, 3 some checks could not
    be assessed, 4 internal error.
    """


def main() -> None:
    app()
