"""The OpenAPI document as the scan needs it: which operations exist and which declare security.

`parse` is pure (the web checks rebuild the operations from the stored document with it);
`load` reads a file or fetches a URL and turns every way that can go wrong into one UsageError line.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import yaml

from compliance.errors import UsageError

READ_METHODS = ("get", "head", "options")
WRITE_METHODS = ("post", "put", "patch", "delete")
METHODS = READ_METHODS + WRITE_METHODS


class InvalidDocument(ValueError):
    """The text is not an OpenAPI 3 or Swagger 2 document this scanner can use."""


@dataclass(frozen=True)
class Parameter:
    name: str
    location: str
    required: bool
    schema: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    security: tuple[str, ...]
    """Names of the security schemes any of which the document requires; empty when the operation
    declares itself public (no requirement, or an empty one that allows anonymous calls)."""
    parameters: tuple[Parameter, ...] = ()
    body_type: str | None = None
    body_schema: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    @property
    def key(self) -> str:
        """How findings and evidence name the operation: `GET /v1/wallets/{wallet_id}`."""
        return f"{self.method.upper()} {self.path}"

    @property
    def secured(self) -> bool:
        return bool(self.security)

    @property
    def writes(self) -> bool:
        return self.method in WRITE_METHODS

    def path_params(self) -> list[Parameter]:
        names = [seg[1:-1] for seg in self.path.split("/") if seg.startswith("{") and seg.endswith("}")]
        declared = {p.name: p for p in self.parameters if p.location == "path"}
        return [declared.get(n, Parameter(n, "path", True)) for n in names]


def _resolve(doc: dict[str, Any], node: Any, depth: int = 0) -> Any:
    """Follow a local `$ref` (to a bounded depth, so a cycle cannot hang the scan)."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str) and depth < 20:
        ref = node["$ref"]
        if not ref.startswith("#/"):
            return {}
        target: Any = doc
        for part in ref[2:].split("/"):
            target = target.get(part.replace("~1", "/").replace("~0", "~"), {}) if isinstance(
                target, dict) else {}
        node, depth = target, depth + 1
    return node


def _security(requirements: Any) -> tuple[str, ...] | None:
    if requirements is None:
        return None
    if not isinstance(requirements, list):
        raise InvalidDocument("security must be a list of requirements")
    names: list[str] = []
    for requirement in requirements:
        if not isinstance(requirement, dict):
            raise InvalidDocument("each security requirement must be an object")
        if not requirement:
            return ()  # an empty requirement: anonymous access is allowed
        names.extend(requirement)
    return tuple(dict.fromkeys(names))


def _parameters(doc: dict[str, Any], *lists: Any) -> tuple[Parameter, ...]:
    found: dict[tuple[str, str], Parameter] = {}
    for items in lists:
        for raw in items or []:
            item = _resolve(doc, raw)
            if not isinstance(item, dict) or "name" not in item or "in" not in item:
                raise InvalidDocument("a parameter lacks its name or location")
            schema = _resolve(doc, item.get("schema") or {k: item[k] for k in ("type", "format")
                                                             if k in item})
            found[(item["name"], item["in"])] = Parameter(
                str(item["name"]), str(item["in"]), bool(item.get("required")), schema or {})
    return tuple(found.values())


def _body(doc: dict[str, Any], op: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    body = _resolve(doc, op.get("requestBody"))
    if isinstance(body, dict) and isinstance(body.get("content"), dict) and body["content"]:
        content = body["content"]
        media = "application/json" if "application/json" in content else next(iter(content))
        return media, _resolve(doc, (content.get(media) or {}).get("schema") or {})
    for raw in op.get("parameters") or []:  # Swagger 2: the body is a parameter
        item = _resolve(doc, raw)
        if isinstance(item, dict) and item.get("in") == "body":
            return "application/json", _resolve(doc, item.get("schema") or {})
    return None, {}


def parse(doc: Any) -> list[Operation]:
    """The document's operations, in document order; raises InvalidDocument on a wrong shape."""
    if not isinstance(doc, dict):
        raise InvalidDocument("the document is not a JSON or YAML object")
    version = str(doc.get("openapi") or doc.get("swagger") or "")
    if not (version.startswith("3.") or version.startswith("2.")):
        raise InvalidDocument("no 'openapi: 3.x' (or 'swagger: 2.0') version field")
    paths = doc.get("paths")
    if not isinstance(paths, dict):
        raise InvalidDocument("no 'paths' object")
    default = _security(doc.get("security")) or ()
    operations: list[Operation] = []
    for path, item in paths.items():
        item = _resolve(doc, item)
        if not isinstance(path, str) or not path.startswith("/") or not isinstance(item, dict):
            raise InvalidDocument(f"path {path!r} is not a path item")
        for method in METHODS:
            op = item.get(method)
            if op is None:
                continue
            if not isinstance(op, dict):
                raise InvalidDocument(f"{method.upper()} {path} is not an operation object")
            declared = _security(op.get("security"))
            media, schema = _body(doc, op)
            operations.append(Operation(
                method, path, default if declared is None else declared,
                _parameters(doc, item.get("parameters"), op.get("parameters")), media, schema,
                str(op.get("summary") or "")))
    if not operations:
        raise InvalidDocument("the document declares no operations")
    return operations


def token_urls(doc: dict[str, Any], base: str) -> list[str]:
    """The OAuth2 token endpoints the document declares, as absolute URLs."""
    schemes = (doc.get("components") or {}).get("securitySchemes") or doc.get("securityDefinitions") or {}
    urls: list[str] = []
    for scheme in schemes.values():
        scheme = _resolve(doc, scheme)
        if not isinstance(scheme, dict):
            continue
        flows = scheme.get("flows") or {}
        for flow in flows.values() if isinstance(flows, dict) else ():
            if isinstance(flow, dict) and flow.get("tokenUrl"):
                urls.append(urljoin(base, str(flow["tokenUrl"])))
        if scheme.get("tokenUrl"):
            urls.append(urljoin(base, str(scheme["tokenUrl"])))
    return list(dict.fromkeys(urls))


def decode(text: str | bytes, where: str) -> dict[str, Any]:
    """JSON or YAML text to a document checked by `parse`; one UsageError line when it is not one."""
    try:
        data = json.loads(text)
    except ValueError:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError:
            raise UsageError(f"OpenAPI document {where} is neither JSON nor YAML") from None
    try:
        parse(data)
    except InvalidDocument as exc:
        raise UsageError(f"OpenAPI document {where} is invalid: {exc}") from None
    return data  # type: ignore[no-any-return]


def read_file(path: Path) -> dict[str, Any]:
    try:
        text = path.read_bytes()
    except OSError as exc:
        raise UsageError(f"cannot read OpenAPI document {path}: {exc.strerror}") from None
    return decode(text, str(path))
