"""`comply scan all`: every target a config file names, in one scan, one report and one evidence pack.

    # comply.yaml
    fail_on: high
    aws:
      region: [eu-west-1]
    web:
      url: https://pay.example.com
      credentials: clients.yaml
    kubernetes:
      manifests: [deploy/]

Each section holds the options of `comply scan <target>` (dashes or underscores), checked exactly as
that command checks its flags; the top level holds the shared output options.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from typer import _click as click  # typer vendors click

from compliance.cli.scan import BUILDERS, ScanJob, output_options, scan_command
from compliance.errors import UsageError

if TYPE_CHECKING:
    from compliance.targets import Target

SELF = "all"


def _argv(command: click.Command, section: dict[str, tuple[Any, int]], where: str) -> list[str]:
    """The section as the command line it stands for, so the target's own parser checks it."""
    from compliance import config

    by_name = {p.name: p for p in command.params}
    argv: list[str] = []
    positional: list[str] = []
    for name, (value, line) in section.items():
        param = by_name[name]
        at = f"{where} line {line}"
        if getattr(param, "is_flag", False):
            if not isinstance(value, bool):
                raise UsageError(f"{at}: {name}: expected true or false")
            argv += [param.opts[0]] if value else []
            continue
        given = config.file_value(param, value, at)
        items = [config.scalar(v, name, at) for v in (given if isinstance(given, list) else [given])]
        if param.param_type_name == "argument":
            positional += items
        else:
            argv += [part for item in items for part in (param.opts[0], item)]
    return [*argv, *(["--", *positional] if positional else [])]


def targets_from_config(path: Path, group: Any, ctx: click.Context) -> list[Target]:
    from compliance import config
    from compliance.cli.scan import _option_names

    shared = list(_option_names(output_options))
    names = {n: _option_names(b) for n, b in BUILDERS.items() if n != SELF}
    sections = config.read_config(path, shared, names)
    wanted = [n for n in names if n in sections]
    if not wanted:
        raise UsageError(f"config file {path} names no target: add an {', '.join(f'{n}:' for n in names)} "
                         "section")
    targets: list[Target] = []
    for name in wanted:
        command = group.get_command(ctx, name)
        assert command is not None
        argv = _argv(command, sections[name], f"config file {path} ({name}:)")
        try:
            parsed = command.make_context(f"scan {name}", argv, parent=ctx.parent)
        except click.exceptions.ClickException as exc:
            raise UsageError(f"config file {path} ({name}:): {exc.format_message()}") from None
        own = {k: v for k, v in parsed.params.items() if k in names[name]}
        built = BUILDERS[name](**own)
        if isinstance(built, ScanJob):
            raise UsageError(f"config file {path} ({name}:): these options make a job, not a target; "
                             f"run `comply scan {name}` on its own")
        targets.extend(built if isinstance(built, Sequence) else [built])
    return targets


@scan_command(SELF)
def scan_all_command() -> list[Target]:
    """Scan every target the config file names (aws:, web:, kubernetes: sections) into one scan."""
    from compliance import config

    ctx = click.globals.get_current_context()
    path = config.config_path(ctx.params.get("config"))
    if path is None:
        raise UsageError("scan all needs --config FILE (or a comply.yaml here) with aws:, web: or "
                         "kubernetes: sections")
    assert ctx.parent is not None
    return targets_from_config(path, ctx.parent.command, ctx)
