"""Values to put in a request: plausible ones from a schema, malformed ones to test error handling,
and the object ids a response reveals. Pure functions, shared by the collector and the checks."""

from __future__ import annotations

import datetime as dt
import json
import re
from typing import Any

from compliance.collect.web.openapi import Operation

PLACEHOLDER_ID = "comply-probe-0"
TEST_PAN = "4111111111111111"
"""The well-known Visa test number: a PAN field of a create operation gets it, never a real one."""

_CANDIDATES = ("comply-probe", "USD", "12.50", "1", "2030-01-01", "probe@example.invalid",
               "00000000-0000-4000-8000-000000000000", TEST_PAN, "A")

MALFORMED_PATH = (
    ("quote", "'"),
    ("sql", "1' OR '1'='1"),
    ("nul", "%00"),
    ("traversal", "..%2F..%2Fetc%2Fpasswd"),
    ("long", "A" * 1500),
    ("non-ascii-digits", "%D9%A1%D9%A2%D9%A3"),
)
MALFORMED_QUERY = (("quote", "'"), ("huge-number", "9" * 40), ("negative", "-1"))
NESTING = 512


def sample_string(schema: dict[str, Any], name: str = "") -> str:
    for key in ("const", "default"):
        if isinstance(schema.get(key), str):
            return str(schema[key])
    for key in ("examples", "enum"):
        values = schema.get(key)
        if isinstance(values, list) and values and isinstance(values[0], str):
            return values[0]
    if isinstance(schema.get("example"), str):
        return str(schema["example"])
    fmt = schema.get("format")
    if fmt == "uuid":
        return "00000000-0000-4000-8000-000000000000"
    if fmt == "date-time":
        return dt.datetime(2030, 1, 1, tzinfo=dt.UTC).isoformat()
    if fmt == "date":
        return "2030-01-01"
    pattern = schema.get("pattern")
    candidates = _CANDIDATES
    if re.search(r"pan|card_?number", name, re.I):
        candidates = (TEST_PAN, *_CANDIDATES)
    if isinstance(pattern, str):
        try:
            compiled = re.compile(pattern)
        except re.error:
            return "comply-probe"
        for candidate in candidates:
            if compiled.search(candidate):
                return candidate
    return candidates[0]


def sample_value(schema: dict[str, Any], name: str = "", depth: int = 0) -> Any:
    """A value the schema accepts, as far as simple rules can tell (enough to pass most validators)."""
    if "const" in schema:
        return schema["const"]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind in ("integer", "number"):
        if re.search(r"year", name, re.I):
            return dt.date.today().year + 4
        if re.search(r"month", name, re.I):
            return 12
        low = schema.get("minimum", 1)
        return int(low) if kind == "integer" else float(low)
    if kind == "boolean":
        return True
    if kind == "array":
        return []
    if kind == "object" or "properties" in schema:
        if depth > 4:
            return {}
        props = schema.get("properties") or {}
        required = schema.get("required") or list(props)
        return {key: sample_value(props.get(key) or {}, key, depth + 1) for key in required}
    return sample_string(schema, name)


def fill_path(op: Operation, values: dict[str, str] | None = None) -> str:
    path = op.path
    for param in op.path_params():
        value = (values or {}).get(param.name) or (
            PLACEHOLDER_ID if param.schema.get("type") not in ("integer", "number")
            else str(param.schema.get("minimum", 1)))
        path = path.replace("{" + param.name + "}", value)
    return path


def required_query(op: Operation) -> dict[str, str]:
    return {p.name: str(sample_value(p.schema, p.name)) for p in op.parameters
            if p.location == "query" and p.required}


def collection_of(op: Operation) -> tuple[str, str] | None:
    """For an operation on one object (`/v1/wallets/{wallet_id}/...`): the collection path whose
    listing or creation yields ids for its first path parameter, and that parameter's name."""
    params = op.path_params()
    if not params:
        return None
    marker = "{" + params[0].name + "}"
    prefix = op.path.split(marker, 1)[0].rstrip("/")
    return (prefix or "/"), params[0].name


def collection_name(path: str) -> str:
    """The last fixed segment of a path: `/v1/wallets/{wallet_id}/topups` -> `topups`."""
    fixed = [seg for seg in path.split("/") if seg and not seg.startswith("{")]
    return fixed[-1] if fixed else "/"


def ids_in(body: str) -> list[str]:
    """Ids of the objects a JSON response shows: its own `id`, or those of the items it lists."""
    try:
        data = json.loads(body)
    except ValueError:
        return []
    items: list[Any]
    if isinstance(data, list):
        items = data
    elif isinstance(data, dict):
        listed = next((v for k, v in data.items() if k in ("data", "items", "results") and
                       isinstance(v, list)), None)
        items = listed if listed is not None else [data]
    else:
        return []
    ids = [str(item["id"]) for item in items if isinstance(item, dict) and
           isinstance(item.get("id"), str | int) and not isinstance(item.get("id"), bool)]
    return list(dict.fromkeys(ids))


def nested_json(depth: int = NESTING) -> bytes:
    return ("[" * depth + "]" * depth).encode()
