"""The catalogs stay honest: real ids, once each, in order; every mapped check exists and vice versa."""

from __future__ import annotations

from pathlib import Path

import pytest

from compliance.errors import UsageError
from compliance.frameworks import (
    FRAMEWORK_IDS,
    TESTING_KINDS,
    all_frameworks,
    framework_of,
    load,
    parse_catalog,
    requirement_refs,
)
from controls.registry import all_checks

REFERENCE = Path(__file__).parent / "reference"
"""Copies of the official requirement ids (identifiers only), so the test runs anywhere."""
REFERENCE_FILES = {"pci-dss-4.0.1": ("pci-dss-4.0.1-requirement-ids.txt",),
                   "iso27001-2022": ("iso-27001-2022-clause-ids.txt", "iso-27001-2022-annex-a-ids.txt")}
"""ISO: the management-system clauses 4.1-10.2 first, then Annex A, as an auditor reads the standard."""


def _reference_ids(framework_id: str) -> list[str]:
    return [i for name in REFERENCE_FILES[framework_id] for i in (REFERENCE / name).read_text().split()]


@pytest.mark.parametrize("framework_id", FRAMEWORK_IDS)
def test_ids_are_the_real_ones_once_each_in_order(framework_id: str) -> None:
    fw = load(framework_id)
    assert [r.id for r in fw.requirements] == _reference_ids(framework_id)


def test_pci_has_every_numbered_requirement_and_iso_30_clauses_and_93_controls() -> None:
    pci, iso = load("pci-dss-4.0.1"), load("iso27001-2022")
    assert len(pci.requirements) == 280
    ids = {r.id for r in pci.requirements}
    assert {"8.3.10.1", "12.5.2.1", "9.5.1.2.1", "A1.1.1", "A2.1.3", "A3.5.1"} <= ids
    assert len(iso.requirements) == 30 + 93
    assert [p.id for p in iso.principals] == ["4", "5", "6", "7", "8", "9", "10", "A.5", "A.6", "A.7", "A.8"]
    assert [len(iso.under(p)) for p in ("4", "5", "6", "7", "8", "9", "10")] == [4, 3, 5, 7, 3, 6, 2]
    assert [len(iso.under(p)) for p in ("A.5", "A.6", "A.7", "A.8")] == [37, 8, 14, 34]


def test_iso_clauses_are_attested_with_automated_support_where_it_fits() -> None:
    iso = load("iso27001-2022")
    clauses = [r for r in iso.requirements if not r.id.startswith("A.")]
    assert len(clauses) == 30
    assert all(r.testing in ("manual", "partial") for r in clauses)
    assert {r.id for r in clauses if r.testing == "partial"} == {"7.5.3", "8.1", "9.1"}
    assert "aws.cloudtrail.multi_region_logging" in iso.requirement("9.1").checks


@pytest.mark.parametrize("framework_id", FRAMEWORK_IDS)
def test_every_requirement_is_well_formed(framework_id: str) -> None:
    fw = load(framework_id)
    assert fw.catalog_version
    for req in fw.requirements:
        prefix = req.id.split(".")[0] if not req.id.startswith("A.") else ".".join(req.id.split(".")[:2])
        assert req.principal == prefix, req.id
        assert req.testing in TESTING_KINDS
        assert 2 <= len(req.title.split()) <= 10, req.title
        assert len(set(req.checks)) == len(req.checks)


def test_every_mapped_check_exists() -> None:
    registered = {c.id for c in all_checks()}
    for fw in all_frameworks():
        missing = {c for req in fw.requirements for c in req.checks} - registered
        assert not missing, f"{fw.id} maps checks that do not exist: {sorted(missing)}"


def test_every_check_maps_to_pci_and_iso() -> None:
    checks = all_checks()
    assert checks
    for item in checks:
        refs = requirement_refs(item.id)
        assert any(r.startswith("PCI DSS v4.0.1/") for r in refs), item.id
        assert any(r.startswith("ISO/IEC 27001:2022/A.") for r in refs), item.id


def test_requirement_refs_are_derived_from_the_catalogs() -> None:
    assert requirement_refs("aws.cloudtrail.bucket_locked") == (
        "PCI DSS v4.0.1/10.3.2", "PCI DSS v4.0.1/10.3.3", "PCI DSS v4.0.1/10.5.1",
        "ISO/IEC 27001:2022/7.5.3", "ISO/IEC 27001:2022/A.5.33", "ISO/IEC 27001:2022/A.8.15")
    assert requirement_refs("no.such.check") == ()
    for fw in all_frameworks():
        for req in fw.requirements:
            for check_id in req.checks:
                assert fw.ref(req.id) in requirement_refs(check_id)


def test_lookups() -> None:
    pci = load("pci-dss-4.0.1")
    assert pci.requirement("10.3.2").checks == ("aws.cloudtrail.bucket_locked",)
    assert framework_of("A.8.15").id == "iso27001-2022"
    assert framework_of("8.3.10.1") is pci
    with pytest.raises(UsageError, match=r"no requirement '10\.3\.99'"):
        pci.requirement("10.3.99")
    with pytest.raises(UsageError, match=r"no catalog has a requirement '1\.1'"):
        framework_of("1.1")
    with pytest.raises(UsageError, match="unknown framework 'nist'"):
        load("nist")


def _catalog(**req: object) -> dict:
    base = {"id": "1.1.1", "principal": "1", "title": "t", "testing": "manual"}
    return {"id": "x", "name": "X", "version": "1", "label": "X 1", "principals": [{"id": "1", "title": "P"}],
            "requirements": [{**base, **req}]}


@pytest.mark.parametrize(("changes", "message"), [
    ({"principal": "9"}, "unknown principal '9'"),
    ({"testing": "sometimes"}, "testing 'sometimes'"),
    ({"testing": "partial"}, "is partial but lists 0 checks"),
    ({"checks": ["a.b"]}, "is manual but lists 1 checks"),
])
def test_parse_catalog_rejects_inconsistent_requirements(changes: dict, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_catalog(_catalog(**changes), "test.yaml")


def test_parse_catalog_rejects_duplicates_and_missing_fields() -> None:
    data = _catalog()
    data["requirements"] *= 2
    with pytest.raises(UsageError, match=r"1\.1\.1 listed more than once"):
        parse_catalog(data, "dup.yaml")
    with pytest.raises(UsageError, match=r"broken.yaml: malformed catalog \(KeyError"):
        parse_catalog({"id": "x"}, "broken.yaml")
    with pytest.raises(UsageError, match="malformed catalog"):
        parse_catalog(["not", "a", "mapping"], "list.yaml")


@pytest.mark.parametrize(("framework", "requirement", "absent", "present"), [
    ("pci-dss-4.0.1", "1.3.2", ("aws.ec2.sg_admin_ports_open", "aws.ec2.sg_all_traffic_open"), ()),
    ("pci-dss-4.0.1", "11.3.1", ("aws.ecr.scan_on_push",), ()),
    ("pci-dss-4.0.1", "6.3.1", (), ("aws.ecr.scan_on_push",)),
    ("pci-dss-4.0.1", "6.3.3", (), ("aws.ecr.scan_on_push", "aws.ecr.image_vulnerabilities")),
    ("pci-dss-4.0.1", "3.6.1", ("aws.kms.key_rotation",), ()),
    ("pci-dss-4.0.1", "3.7.4", (), ("aws.kms.key_rotation",)),
    ("pci-dss-4.0.1", "10.3.2", ("aws.cloudtrail.kms_encrypted",), ()),
    ("pci-dss-4.0.1", "10.3.1", (), ("aws.cloudtrail.kms_encrypted",)),
    ("pci-dss-4.0.1", "1.4.2", ("aws.elbv2.waf_attached", "aws.apigateway.waf_attached"), ()),
    ("pci-dss-4.0.1", "6.4.2", (), ("aws.elbv2.waf_attached", "aws.apigateway.waf_attached")),
    ("pci-dss-4.0.1", "2.2.7", (), ("aws.elbv2.listener_tls",)),
    ("iso27001-2022", "A.8.5", (), ("aws.iam.console_user_mfa", "aws.iam.root_mfa")),
    ("iso27001-2022", "A.5.17", ("aws.iam.root_mfa",), ()),
])
def test_mappings_an_assessor_disputed_are_corrected(framework, requirement, absent, present) -> None:
    checks = load(framework).requirement(requirement).checks
    assert not set(absent) & set(checks)
    assert set(present) <= set(checks)


def test_storage_encryption_is_partial_evidence_for_3_5_1_and_says_so() -> None:
    req = load("pci-dss-4.0.1").requirement("3.5.1")
    assert req.testing == "partial"
    assert "partial evidence only" in req.note and "PAN itself unreadable" in req.note


def test_every_corrected_row_gives_its_reason_in_the_catalog() -> None:
    text = (Path(__file__).parents[2] / "controls" / "frameworks" / "pci-dss-4.0.1.yaml").read_text()
    for req in ("1.3.2", "3.5.1", "3.6.1", "6.3.3", "11.3.1", "10.3.2", "1.4.2", "2.2.7"):
        assert f"# {req} (assessor review): " in text
