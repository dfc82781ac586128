"""The scan store round-trips a whole scan on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import pytest

from compliance.collect.record import EvidenceRecord, Outcome
from compliance.errors import UsageError
from compliance.findings import Finding, Severity, Status
from compliance.scan import RequirementResult, RocResult, Scan, WaiverUse
from compliance.store import Store
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(request: pytest.FixtureRequest, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'nested' / 'comply.db'}"
    return request.getfixturevalue("postgres_url")


def sample_scan() -> Scan:
    ok = EvidenceRecord(
        "aws",
        "ec2",
        "describe_security_groups",
        "us-east-1",
        {},
        "2026-11-22T00:00:00+00:00",
        Outcome.OK,
        response={"SecurityGroups": [{"GroupId": "sg-1", "Tags": []}]},
        request_id="req-1",
    )
    denied = EvidenceRecord(
        "aws",
        "rds",
        "describe_db_instances",
        "us-east-1",
        {},
        "2026-11-22T00:00:01+00:00",
        Outcome.ERROR,
        error_code="AccessDenied",
        error_message="not authorized",
    )
    scan = Scan(
        target="aws",
        scope={"account_id": "123456789012", "regions": ["us-east-1"]},
        identity={"Arn": "arn:aws:iam::123456789012:user/auditor"},
    )
    scan.evidence = [ok, denied]
    scan.findings = [
        Finding(
            "aws.ec2.sg_admin_ports_open",
            "arn:sg-1",
            Status.FAIL,
            "open 22",
            Severity.HIGH,
            "AwsEc2SecurityGroup",
            "us-east-1",
            (ok.id,),
            suppressed_by="waiver: bastion",
        ),
        Finding(
            "aws.rds.not_public",
            "arn:aws:rds:us-east-1:123456789012:db:*",
            Status.ERROR,
            denied.error,
            Severity.HIGH,
            evidence_ids=(denied.id,),
        ),
        Finding(
            "aws.rds.not_public",
            "arn:aws:rds:us-east-1:123456789012:db:*",
            Status.PASS,
            "duplicate",
            Severity.HIGH,
        ),
    ]
    scan.requirement_results = [
        RequirementResult(
            "pci-dss-4.0.1",
            "1.3.1",
            RocResult.IN_PLACE,
            "waived",
            ("aws.ec2.sg_admin_ports_open",),
            ("session recording",),
        ),
        RequirementResult("pci-dss-4.0.1", "12.1.1", RocResult.NOT_TESTED, "needs attestation"),
    ]
    scan.waivers = [
        WaiverUse(
            "aws.ec2.*",
            "arn:sg-*",
            "bastion",
            "CISO",
            "2027-01-01",
            "active",
            "session recording",
            ("arn:sg-1",),
        )
    ]
    return scan


def test_a_scan_round_trips_with_everything_it_holds(store_url):
    store = Store(store_url)
    scan = sample_scan()
    store.save_scan(scan)
    loaded = store.load_scan(scan.id)
    assert loaded.scope == scan.scope and loaded.identity == scan.identity
    assert {r.id: r for r in loaded.evidence} == {r.id: r for r in scan.evidence}
    assert len(loaded.findings) == 2, "one finding per check and resource: the first verdict wins"
    assert {f.uid: f for f in loaded.findings} == {f.uid: f for f in scan.findings[:2]}
    assert sorted(loaded.requirement_results, key=lambda r: r.requirement_id) == sorted(
        scan.requirement_results, key=lambda r: r.requirement_id
    )
    assert loaded.waivers == scan.waivers
    assert store.latest_scan_id() == scan.id


def test_saving_again_replaces_rather_than_duplicates(store_url):
    store = Store(store_url)
    scan = sample_scan()
    store.save_scan(scan)
    scan.findings = scan.findings[:1]
    store.save_scan(scan)
    assert len(store.load_scan(scan.id).findings) == 1
    assert [s.id for s in store.list_scans()] == [scan.id]


def test_unknown_scan_and_unusable_urls_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="no scan 'nope'"):
        Store(f"sqlite:///{tmp_path / 'a.db'}").load_scan("nope")
    with pytest.raises(UsageError, match="cannot parse the store URL"):
        Store("notadriver://x")
    assert Store(f"sqlite:///{tmp_path / 'b.db'}").latest_scan_id() is None


def test_the_wallets_tenant_scoping_leaves_the_store_alone(tmp_path):
    """Both use SQLAlchemy in one process; the wallet's session hooks must not reach the store."""
    import wallet.db  # noqa: F401 - registers the wallet's session hooks

    store = Store(f"sqlite:///{tmp_path / 'c.db'}")
    scan = sample_scan()
    store.save_scan(scan)
    assert store.load_scan(scan.id).findings
