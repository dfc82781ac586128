"""Reading the YAML files a person writes (comply.yaml, waivers): strict, with line numbers.

Duplicate keys are refused (PyYAML would silently keep the last), so are binary files, files that
are not UTF-8 and YAML that does not parse; every message names the file and the line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from compliance.errors import UsageError

MAX_BYTES = 5 * 1024 * 1024


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping and remembers each key's line."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            try:
                hash(key)
            except TypeError:
                raise yaml.constructor.ConstructorError(None, None, "a key must be a plain value",
                                                        key_node.start_mark) from None
            if key in seen:
                problem = f"duplicate key {key!r} (first given at line {seen[key]})"
                raise yaml.constructor.ConstructorError(None, None, problem, key_node.start_mark)
            seen[key] = key_node.start_mark.line + 1
        mapping = super().construct_mapping(node, deep=deep)
        return _Lines(mapping, seen)


class _Lines(dict):  # type: ignore[type-arg]
    """A dict that also knows the line each key was written on."""

    def __init__(self, values: dict[Any, Any], lines: dict[Any, int]) -> None:
        super().__init__(values)
        self.lines = lines


# Dates stay text, so the model that reads them names the entry when one is impossible (2026-02-30)
# instead of PyYAML failing without a line.
_StrictLoader.yaml_implicit_resolvers = {
    first: [r for r in resolvers if r[0] != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_map(loader: _StrictLoader, node: yaml.MappingNode):  # type: ignore[no-untyped-def]
    data = _Lines({}, {})
    yield data
    value = loader.construct_mapping(node)
    data.update(value)
    data.lines = getattr(value, "lines", {})


_StrictLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def line_of(mapping: Any, key: Any) -> int | None:
    return getattr(mapping, "lines", {}).get(key)


def load(path: Path, what: str) -> Any:
    """The parsed document, or a UsageError naming the file (and line) and what is wrong with it."""
    try:
        if path.is_dir():
            raise UsageError(f"{what} {path} is a folder, not a file")
        data = path.read_bytes()
    except FileNotFoundError:
        raise UsageError(f"cannot read {what} {path}: no such file") from None
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise UsageError(f"{what} {path} is larger than {MAX_BYTES // 1024 // 1024} MB")
    if b"\x00" in data:
        raise UsageError(f"{what} {path} is a binary file, not YAML")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{what} {path} is not UTF-8 text (byte {exc.start})") from None
    try:
        return yaml.load(text, Loader=_StrictLoader)  # noqa: S506 - a SafeLoader subclass # nosec B506
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UsageError(f"{what} {path} is not valid YAML{where}: {problem}") from None
