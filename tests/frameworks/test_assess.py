"""From findings, waivers and attestations to one ROC result per requirement."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from rich.console import Console

from compliance.assess import (
    assess_scan,
    describe_scope,
    evaluate_requirements,
    principal_counts,
    principal_summary_table,
)
from compliance.attestations import Attestation, add_attestation
from compliance.decisions import ScopingDecision
from compliance.findings import Finding, Severity, Status
from compliance.frameworks import Framework, load, parse_catalog
from compliance.scan import Basis, RequirementResult, RocResult, Scan
from compliance.store import Store
from compliance.waivers import Waiver

MINI = parse_catalog(
    {
        "id": "mini",
        "name": "Mini",
        "version": "1",
        "label": "Mini 1",
        "principals": [{"id": "1", "title": "One"}, {"id": "2", "title": "Two"}],
        "requirements": [
            {"id": "1.1", "principal": "1", "title": "manual one", "testing": "manual"},
            {
                "id": "1.2",
                "principal": "1",
                "title": "automated one",
                "testing": "automated",
                "checks": ["c.auto"],
            },
            {
                "id": "2.1",
                "principal": "2",
                "title": "partial one",
                "testing": "partial",
                "checks": ["c.part", "c.other"],
            },
        ],
    },
    "mini.yaml",
)
RAN = {"c.auto", "c.part", "c.other"}


def _f(check_id: str, status: Status, resource: str = "r1", suppressed_by: str | None = None) -> Finding:
    return Finding(
        check_id,
        resource,
        status,
        f"{status.value.lower()} because",
        Severity.HIGH,
        suppressed_by=suppressed_by,
    )


def _att(req: str, framework: str = "mini", att_id: str = "att1") -> Attestation:
    return Attestation(
        att_id, framework, req, "Jane", "reviewed", "2026-01-01T00:00:00+00:00", "2027-01-01T00:00:00+00:00"
    )


def _results(
    findings: list[Finding],
    atts: list[Attestation] = (),
    ran: set[str] = RAN,
    framework: Framework = MINI,
    **kw: object,
) -> dict[str, RequirementResult]:
    return {r.requirement_id: r for r in evaluate_requirements(findings, framework, atts, ran, **kw)}


def test_nothing_checked_or_attested_is_not_tested_never_absent() -> None:
    results = _results([], ran=set())
    assert list(results) == ["1.1", "1.2", "2.1"]
    assert {r.result for r in results.values()} == {RocResult.NOT_TESTED}
    assert {r.basis for r in results.values()} == {Basis.AUTOMATED}
    assert results["1.1"].detail == "no automated check: needs an attestation and assessor review"
    assert results["1.2"].detail == "not run in this scan: c.auto"
    assert results["2.1"].check_ids == ("c.part", "c.other")


def test_an_attestation_alone_is_not_tested_awaiting_assessor_review() -> None:
    result = _results([], [_att("1.1"), _att("1.1", framework="other", att_id="x")])["1.1"]
    assert result.result is RocResult.NOT_TESTED
    assert result.basis is Basis.ATTESTED
    assert result.attestation_ids == ("att1",)
    assert result.detail == "attested by Jane on 2026-01-01 (until 2027-01-01), awaiting assessor review"


def test_an_unwaived_failure_is_not_in_place_even_when_attested() -> None:
    findings = [
        _f("c.part", Status.PASS),
        _f("c.other", Status.FAIL, "bucket-a"),
        _f("c.other", Status.ERROR),
    ]
    result = _results(findings, [_att("2.1")])["2.1"]
    assert result.result is RocResult.NOT_IN_PLACE
    assert result.basis is Basis.AUTOMATED
    assert result.detail == "1 failing: c.other on bucket-a: fail because"
    assert result.attestation_ids == ()


def test_many_failures_are_summarised() -> None:
    findings = [_f("c.auto", Status.FAIL, f"r{i}") for i in range(5)]
    detail = _results(findings)["1.2"].detail
    assert detail.startswith("5 failing: c.auto on r0") and detail.endswith("; and 2 more")


def test_errors_without_failures_are_not_tested_naming_the_checks() -> None:
    result = _results([_f("c.auto", Status.PASS), _f("c.auto", Status.ERROR, "r2")])["1.2"]
    assert result.result is RocResult.NOT_TESTED
    assert result.detail.startswith("could not assess: c.auto errored (1 errors): c.auto on r2")


def test_an_empty_scope_is_not_tested_never_not_applicable() -> None:
    scope = describe_scope({"account_id": "111122223333", "regions": ["eu-west-3"], "endpoint_url": "x"})
    assert scope == "account 111122223333; region eu-west-3"
    results = _results([_f("c.auto", Status.MANUAL)], scope=scope)
    assert RocResult.NOT_APPLICABLE not in {r.result for r in results.values()}
    assert results["1.2"].result is RocResult.NOT_TESTED
    assert results["1.2"].detail == "no in-scope resource found in account 111122223333; region eu-west-3"
    assert results["2.1"].result is RocResult.NOT_TESTED
    attested = _results([], [_att("2.1")])["2.1"]
    assert attested.result is RocResult.NOT_TESTED and attested.basis is Basis.ATTESTED
    assert attested.detail.endswith("awaiting assessor review")


def test_only_a_scoping_decision_makes_a_requirement_not_applicable() -> None:
    decision = ScopingDecision(
        "d1",
        "mini",
        "2.1",
        "no wireless anywhere",
        "Risk Board",
        "2026-02-01T00:00:00+00:00",
        "2027-01-01T00:00:00+00:00",
    )
    scoped = _results([], decisions=[decision])["2.1"]
    assert (scoped.result, scoped.basis, scoped.decision_ids) == (
        RocResult.NOT_APPLICABLE,
        Basis.SCOPED,
        ("d1",),
    )
    assert scoped.detail == "scoped out by Risk Board on 2026-02-01: no wireless anywhere (until 2027-01-01)"
    contradicted = _results([_f("c.part", Status.FAIL)], decisions=[decision])["2.1"]
    assert contradicted.result is RocResult.NOT_IN_PLACE
    assert "contradicts scoped out by Risk Board" in contradicted.detail


def test_passing_checks_put_only_fully_automated_requirements_in_place() -> None:
    findings = [_f("c.auto", Status.PASS), _f("c.part", Status.PASS), _f("c.other", Status.PASS, "r2")]
    results = _results(findings)
    assert (results["1.2"].result, results["1.2"].detail) == (RocResult.IN_PLACE, "1 passed")
    assert results["1.2"].basis is Basis.AUTOMATED
    assert results["2.1"].result is RocResult.NOT_TESTED
    assert (
        results["2.1"].detail == "2 passed; the part no check covers needs an attestation and assessor review"
    )
    attested = _results(findings, [_att("2.1")])["2.1"]
    assert attested.result is RocResult.NOT_TESTED and attested.basis is Basis.ATTESTED
    assert (
        attested.detail
        == "2 passed; attested by Jane on 2026-01-01 (until 2027-01-01), awaiting assessor review"
    )


def test_waived_failures_are_listed_in_the_rows_they_affect() -> None:
    waived = _f("c.auto", Status.FAIL, "r9", suppressed_by="waiver: accepted (approved by A)")
    other = _f("c.part", Status.FAIL, "r8", suppressed_by="waiver: other")
    results = _results(
        [waived, _f("c.auto", Status.PASS), other],
        [_att("2.1")],
        compensations={waived.uid: "session recording"},
    )
    assert results["1.2"].result is RocResult.IN_PLACE
    assert results["1.2"].detail == "1 passed, 1 waived"
    assert results["1.2"].compensating == ("session recording",)
    assert results["1.2"].waived == ("c.auto on r9: waiver: accepted (approved by A)",)
    assert results["2.1"].compensating == ("waiver: other",)
    assert results["2.1"].waived == ("c.part on r8: waiver: other",)


def test_principal_counts_and_table() -> None:
    results = list(_results([_f("c.auto", Status.FAIL)]).values())
    counts = principal_counts(results, MINI)
    assert counts["1"] == {"In Place": 0, "Not in Place": 1, "Not Applicable": 0, "Not Tested": 1}
    assert counts["2"]["Not Tested"] == 1
    console = Console(record=True, width=150)
    console.print(principal_summary_table(results, MINI))
    text = console.export_text()
    assert "Mini 1: requirement results" in text
    assert "Not in Place" in text and "Total" in text


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(f"sqlite:///{tmp_path / 'assess.db'}")


def test_assess_scan_fills_every_requirement_and_stores_them(store: Store, tmp_path: Path) -> None:
    evidence = tmp_path / "ir-plan.pdf"
    evidence.write_bytes(b"%PDF incident response plan")
    start = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)
    kept = add_attestation(
        store,
        "pci-dss-4.0.1",
        "12.10.2",
        [evidence],
        "Jane",
        "IR plan v3",
        start + dt.timedelta(days=30),
        now=start - dt.timedelta(days=1),
    )
    add_attestation(
        store,
        "pci-dss-4.0.1",
        "12.1.1",
        [evidence],
        "Jane",
        "policy",
        start - dt.timedelta(hours=1),
        now=start - dt.timedelta(days=400),
    )
    trail = "arn:aws:cloudtrail:us-east-1:111122223333:trail/main"
    scan = Scan(
        target="aws",
        scope={},
        started_at=start.isoformat(),
        options={"checks": ["aws.cloudtrail.bucket_locked", "aws.kms.key_rotation"]},
    )
    scan.findings = [
        Finding("aws.cloudtrail.bucket_locked", trail, Status.FAIL, "governance mode", Severity.HIGH),
        Finding("aws.kms.key_rotation", "key/1", Status.ERROR, "AccessDenied", Severity.MEDIUM),
    ]
    waivers = [
        Waiver(
            "aws.cloudtrail.*",
            "*:trail/main",
            "migrating to compliance mode",
            "CISO",
            dt.date(2026, 4, 1),
            "daily digest comparison",
            "w.yaml entry 1",
        ),
        Waiver("aws.s3.*", "*", "nothing", "CISO", dt.date(2026, 1, 1), source="w.yaml entry 2"),
    ]

    warnings = assess_scan(scan, store, ["pci-dss-4.0.1", "iso27001-2022"], waivers, dt.date(2026, 3, 1))

    assert warnings == ["waiver aws.s3.* on * (w.yaml entry 2) expired on 2026-01-01: ignored"]
    assert [w.state for w in scan.waivers] == ["active", "expired"]
    assert scan.findings[0].suppressed_by.startswith("waiver: migrating to compliance mode")
    assert scan.catalog_versions == {f: load(f).catalog_version for f in ("pci-dss-4.0.1", "iso27001-2022")}
    by_id = {(r.framework, r.requirement_id): r for r in scan.requirement_results}
    assert len(by_id) == len(scan.requirement_results) == 280 + 30 + 93
    assert {fid for fid, _ in by_id} == {"pci-dss-4.0.1", "iso27001-2022"}

    assert by_id["pci-dss-4.0.1", "12.10.2"].result is RocResult.NOT_TESTED
    assert by_id["pci-dss-4.0.1", "12.10.2"].basis is Basis.ATTESTED
    assert by_id["pci-dss-4.0.1", "12.10.2"].attestation_ids == (kept.id,)
    assert by_id["pci-dss-4.0.1", "12.1.1"].result is RocResult.NOT_TESTED
    assert by_id["pci-dss-4.0.1", "10.3.3"].result is RocResult.NOT_TESTED
    assert by_id["pci-dss-4.0.1", "10.3.3"].compensating == ("daily digest comparison",)
    assert by_id["pci-dss-4.0.1", "10.3.1"].detail == (
        "not run in this scan: aws.cloudtrail.bucket_not_public, aws.cloudtrail.kms_encrypted")
    assert by_id["pci-dss-4.0.1", "3.7.4"].detail.startswith("could not assess: aws.kms.key_rotation")
    assert by_id["iso27001-2022", "A.5.33"].compensating == ("daily digest comparison",)
    assert sum(r.result is RocResult.NOT_TESTED for r in scan.requirement_results) == 280 + 30 + 93

    store.save_scan(scan)
    again = store.load_scan(scan.id)
    assert sorted(again.requirement_results, key=lambda r: (r.framework, r.requirement_id)) == sorted(
        scan.requirement_results, key=lambda r: (r.framework, r.requirement_id)
    )
    assert again.findings[0].suppressed_by == scan.findings[0].suppressed_by


def test_assess_scan_without_recorded_checks_uses_the_targets_checks(store: Store) -> None:
    scan = Scan(target="aws", scope={})
    assess_scan(scan, store, ["iso27001-2022"], [], dt.date.today())
    results = {r.requirement_id: r for r in scan.requirement_results}
    assert results["A.8.15"].result is RocResult.NOT_TESTED
    assert results["A.8.15"].detail.startswith("no in-scope resource found in the scanned scope")
    assert results["A.5.1"].result is RocResult.NOT_TESTED
    assert len(results) == len(load("iso27001-2022").requirements)
