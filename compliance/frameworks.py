"""Framework catalogs (YAML under controls/frameworks/) and the mapping of checks to requirements.

The catalog is the one source of truth for the mapping: each requirement lists the checks that test
it, and a check's requirement list is derived from the catalogs, never declared twice.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

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
    note: str = ""
    """For a partial requirement: which part the checks show and which they do not (one line)."""
    reasons: tuple[tuple[str, str], ...] = ()
    """(check id, one line on why the check is evidence for this requirement), where the catalog says."""

    def reason(self, check_id: str) -> str:
        return dict(self.reasons).get(check_id, "")


def _mapping(checks: Any) -> tuple[tuple[str, ...], tuple[tuple[str, str], ...]]:
    """A requirement's checks: a list of ids, or a mapping of each id to the reason it is evidence."""
    if isinstance(checks, dict):
        return tuple(str(c) for c in checks), tuple((str(c), " ".join(str(w or "").split()))
                                                    for c, w in checks.items())
    return tuple(checks or ()), ()


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
    catalog_version: str = ""

    def requirement(self, req_id: str) -> Requirement:
        for req in self.requirements:
            if req.id == req_id:
                return req
        raise UsageError(f"{self.id} has no requirement {req_id!r}")

    def has(self, req_id: str) -> bool:
        return any(req.id == req_id for req in self.requirements)

    def ref(self, req_id: str) -> str:
        """A requirement named as AWS Security Hub names it, e.g. 'PCI DSS v4.0.1/10.3.2'."""
        return f"{self.label}/{req_id}"

    def under(self, principal_id: str) -> tuple[Requirement, ...]:
        return tuple(req for req in self.requirements if req.principal == principal_id)


FRAMEWORK_IDS = ("pci-dss-4.0.1", "iso27001-2022")


def parse_catalog(data: Any, source: str = "catalog") -> Framework:
    """A catalog from its YAML data; a structural mistake raises UsageError naming the source."""
    try:
        principals = tuple(Principal(str(p["id"]), str(p["title"])) for p in data.get("principals", []))
        reqs = tuple(
            Requirement(
                id=str(r["id"]), principal=str(r["principal"]), title=str(r["title"]),
                testing=r.get("testing", "manual"), checks=_mapping(r.get("checks"))[0],
                reasons=_mapping(r.get("checks"))[1], note=str(r.get("note") or ""),
            )
            for r in data["requirements"]
        )
        framework = Framework(str(data["id"]), str(data["name"]), str(data["version"]), str(data["label"]),
                              principals, reqs, str(data.get("catalog_version", "")))
    except (KeyError, TypeError, AttributeError) as exc:
        raise UsageError(f"{source}: malformed catalog ({type(exc).__name__}: {exc})") from None
    _validate(framework, source)
    return framework


def _validate(fw: Framework, source: str) -> None:
    repeated = [rid for rid, n in Counter(r.id for r in fw.requirements).items() if n > 1]
    if repeated:
        raise UsageError(f"{source}: requirement {repeated[0]} listed more than once")
    known = {p.id for p in fw.principals}
    for req in fw.requirements:
        if req.principal not in known:
            raise UsageError(f"{source}: requirement {req.id} names unknown principal {req.principal!r}")
        if req.testing not in TESTING_KINDS:
            raise UsageError(f"{source}: requirement {req.id} has testing {req.testing!r}, "
                             f"expected one of {', '.join(TESTING_KINDS)}")
        if (req.testing == "manual") != (not req.checks):
            raise UsageError(f"{source}: requirement {req.id} is {req.testing} but lists "
                             f"{len(req.checks)} checks")


@cache
def load(framework_id: str) -> Framework:
    if framework_id not in FRAMEWORK_IDS:
        raise UsageError(f"unknown framework {framework_id!r}: expected one of {', '.join(FRAMEWORK_IDS)}")
    text = resources.files("controls").joinpath("frameworks", f"{framework_id}.yaml").read_text("utf-8")
    return parse_catalog(yaml.safe_load(text), f"{framework_id}.yaml")


def all_frameworks() -> list[Framework]:
    return [load(fid) for fid in FRAMEWORK_IDS]


def framework_of(req_id: str) -> Framework:
    """The one catalog that holds this requirement id (PCI and ISO ids never collide)."""
    for fw in all_frameworks():
        if fw.has(req_id):
            return fw
    raise UsageError(f"no catalog has a requirement {req_id!r} "
                     "(PCI ids look like 10.3.2, ISO ids like A.8.15)")


@cache
def requirement_refs(check_id: str) -> tuple[str, ...]:
    """Every requirement, across all catalogs, that names this check."""
    return tuple(fw.ref(req.id) for fw in all_frameworks() for req in fw.requirements
                 if check_id in req.checks)
