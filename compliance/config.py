"""Scan options from a flag, a `COMPLY_*` variable or a config file, in that order of precedence.

The config file is `--config FILE`, else `comply.yaml` in the current directory if there is one.
Top-level keys set the options every scan command shares; a section named after a target sets that
target's own options::

    fail_on: high
    format: [ocsf, sarif]
    out: comply-out
    aws:
      region: [eu-west-1, eu-central-1]
      role_arn: arn:aws:iam::123456789012:role/ComplyAudit

Keys may use dashes or underscores. An option that takes several values takes a YAML list (or one
value); one given on the command line as a comma-separated value (`format`, `accounts`,
`exclude_accounts`) takes a list too, joined with commas; a list for an option of one value is refused.
An unknown key is refused with its line number, a value of the wrong kind with the key and line, all
before anything is collected. A variable is `COMPLY_` and the
option's name in capitals (`COMPLY_FAIL_ON=high`, `COMPLY_REGION=eu-west-1,eu-central-1`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from typer import _click as click  # typer vendors click

from compliance.errors import UsageError
from compliance.yamlfile import line_of
from compliance.yamlfile import load as load_yaml

DEFAULT_FILE = "comply.yaml"
FLAG_ONLY = frozenset({"config"})
JOINED = frozenset({"format", "accounts", "exclude_accounts"})
"""Options of one comma-separated value on the command line: a YAML list for them is joined with commas."""
_GIVEN = (click.core.ParameterSource.COMMANDLINE, click.core.ParameterSource.PROMPT)


def _key(name: str) -> str:
    return str(name).replace("-", "_")


def config_path(explicit: Path | None) -> Path | None:
    if explicit is not None:
        return explicit
    default = Path.cwd() / DEFAULT_FILE
    return default if default.is_file() else None


def read_config(path: Path, shared: Iterable[str], targets: dict[str, Iterable[str]]) -> dict[str, Any]:
    """The file as {option: (value, line)} for the shared options and {target: {...}} per section."""
    data = load_yaml(path, "config file")
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise UsageError(f"config file {path}: expected a mapping of option names to values")
    shared_names = set(shared) - FLAG_ONLY
    out: dict[str, Any] = {}
    for raw_key, value in data.items():
        key, line = _key(raw_key), line_of(data, raw_key)
        if key in targets:
            if not isinstance(value, dict):
                raise UsageError(f"config file {path} line {line}: {raw_key}: expected a mapping of "
                                 f"{raw_key} options")
            own = set(targets[key])
            section = {}
            for sub_key, sub_value in value.items():
                name = _key(sub_key)
                if name not in own:
                    raise UsageError(f"config file {path} line {line_of(value, sub_key)}: unknown key "
                                     f"{sub_key!r} in {raw_key} (known: {', '.join(sorted(own))})")
                section[name] = (sub_value, line_of(value, sub_key))
            out[key] = section
        elif key in shared_names:
            out[key] = (value, line)
        else:
            hint = next((f": it belongs under {t}:" for t, names in targets.items() if key in set(names)), "")
            raise UsageError(f"config file {path} line {line}: unknown key {raw_key!r}{hint}")
    return out


def scalar(item: Any, name: str, where: str) -> str:
    if isinstance(item, dict | list) or item is None:
        raise UsageError(f"{where}: {name}: expected a value, got {item!r}")
    return str(item).lower() if isinstance(item, bool) else str(item)


def takes_several(param: click.core.Parameter) -> bool:
    return bool(getattr(param, "multiple", False)) or param.nargs != 1


def file_value(param: click.core.Parameter, raw: Any, where: str) -> Any:
    """A config file's value as the command line gives it: a list of strings for an option that takes
    several, one comma-joined string for a comma-separated one, a list refused for any other."""
    name = param.name or ""
    if isinstance(raw, dict):
        raise UsageError(f"{where}: {name}: expected a value, got a mapping")
    if takes_several(param):
        return [scalar(v, name, where) for v in (raw if isinstance(raw, list) else [raw])]
    if isinstance(raw, list):
        if name in JOINED:
            return ",".join(scalar(v, name, where) for v in raw)
        raise UsageError(f"{where}: {name}: takes one value, got a list of {len(raw)}")
    return raw


def _from_env(param: click.core.Parameter) -> Any:
    value = os.environ.get(f"COMPLY_{(param.name or '').upper()}")
    if value is None:
        return None
    if getattr(param, "multiple", False):
        return [v.strip() for v in value.split(",") if v.strip()]
    return value


def apply(ctx: click.Context, values: dict[str, Any], target: str, config: Path | None,
          shared: Iterable[str], targets: dict[str, Iterable[str]]) -> dict[str, Any]:
    """The command's values after precedence: flag, then COMPLY_* variable, then config file, then default."""
    path = config_path(config)
    from_file = read_config(path, shared, targets) if path is not None else {}
    section = from_file.get(target, {})
    resolved = dict(values)
    for param in ctx.command.params:
        name = param.name or ""
        if name not in values or name in FLAG_ONLY or ctx.get_parameter_source(name) in _GIVEN:
            continue
        if ctx.get_parameter_source(name) is click.core.ParameterSource.ENVIRONMENT:
            continue  # the option's own envvar (e.g. COMPLY_ORGANISATION) already applied
        env = _from_env(param)
        if env is not None:
            where, raw = f"COMPLY_{name.upper()}", env
        elif name in section or (name in from_file and name not in targets):
            raw, line = section[name] if name in section else from_file[name]
            where = f"config file {path} line {line}"
            raw = file_value(param, raw, where)
        else:
            continue
        try:
            resolved[name] = param.process_value(ctx, raw)
        except click.exceptions.BadParameter as exc:
            raise UsageError(f"{where}: {name}: {exc.format_message()}") from None
    return resolved
