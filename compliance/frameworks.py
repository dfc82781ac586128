"""Framework catalogs (YAML under controls/frameworks/) and the mapping of checks to requirements.

The catalog is the one source of truth for the mapping: each requirement lists the checks that test
it, and a check's requirement list is derived from the catalogs, never declared twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources

import yaml

from compliance.errors import UsageError

TESTING_KINDS = ("automated", "partial", "manual")


@dataclass(frozen=True)
class Requirement:
    id: str
    principal: str
    title: str
    testing: str
    checks: tuple[str, ...] = ()


@dataclass(frozen=True)
class Principal:
    id: str
    title: str


@dataclass(frozen=True)
class Framework:
    id: str
    name: str
    version: str
    label: str
    principals: tuple[Principal, ...]
    requirements: tuple[Requirement, ...]

    def requirement(self, req_id: str) -> Requirement:
        for req in self.requirements:
            if req.id == req_id:
                return req
        raise UsageError(f"{self.id} has no requirement {req_id!r}")

    def ref(self, req_id: str) -> str:
        """A requirement named as AWS Security Hub names it, e.g. 'PCI DSS v4.0.1/10.3.2'."""
        return f"{self.label}/{req_id}"


FRAMEWORK_IDS = ("pci-dss-4.0.1", "iso27001-2022")


def _parse(data: dict) -> Framework:
    principals = tuple(Principal(str(p["id"]), p["title"]) for p in data.get("principals", []))
    reqs = tuple(
        Requirement(
            id=str(r["id"]), principal=str(r["principal"]), title=r["title"],
            testing=r.get("testing", "manual"), checks=tuple(r.get("checks") or ()),
        )
        for r in data["requirements"]
    )
    return Framework(data["id"], data["name"], data["version"], data["label"], principals, reqs)


@cache
def load(framework_id: str) -> Framework:
    if framework_id not in FRAMEWORK_IDS:
        raise UsageError(f"unknown framework {framework_id!r}: expected one of {', '.join(FRAMEWORK_IDS)}")
    text = resources.files("controls").joinpath("frameworks", f"{framework_id}.yaml").read_text("utf-8")
    return _parse(yaml.safe_load(text))


def all_frameworks() -> list[Framework]:
    return [load(fid) for fid in FRAMEWORK_IDS]


@cache
def requirement_refs(check_id: str) -> tuple[str, ...]:
    """Every requirement, across all catalogs, that names this check."""
    return tuple(fw.ref(req.id) for fw in all_frameworks() for req in fw.requirements if check_id in req.checks)
