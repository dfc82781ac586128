"""A hand-built scan with every status, every ROC result, a waiver and an attestation, in a temp store."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from compliance.attestations import Attestation, attestation_parts
from compliance.collect.record import EvidenceRecord, Outcome
from compliance.findings import Finding, Severity, Status
from compliance.scan import Basis, RequirementResult, RocResult, Scan, WaiverUse
from compliance.store import AttestationFileRow, AttestationRow, Store

ACCOUNT = "123456789012"
BUCKET = "arn:aws:s3:::cardholder-logs"
TRAIL = f"arn:aws:cloudtrail:eu-west-1:{ACCOUNT}:trail/main"
ATTESTATION_BYTES = b"%PDF-1.4 signed policy review minutes\n"


def evidence() -> list[EvidenceRecord]:
    return [
        EvidenceRecord(
            "aws",
            "s3",
            "get_bucket_policy",
            "eu-west-1",
            {"Bucket": "cardholder-logs"},
            "2026-01-10T09:00:01.000+00:00",
            Outcome.OK,
            {"Policy": "{}"},
            request_id="REQ-1",
        ),
        EvidenceRecord(
            "aws",
            "cloudtrail",
            "describe_trails",
            "eu-west-1",
            {},
            "2026-01-10T09:00:02.000+00:00",
            Outcome.OK,
            {"trailList": [{"Name": "main"}]},
            request_id="REQ-2",
        ),
        EvidenceRecord(
            "aws",
            "iam",
            "get_account_password_policy",
            None,
            {},
            "2026-01-10T09:00:03.000+00:00",
            Outcome.ERROR,
            error_code="AccessDenied",
            error_message="not allowed",
        ),
    ]


def make_scan(scan_id: str = "scan0001", *, bucket_status: Status = Status.FAIL) -> Scan:
    ev = evidence()
    findings = [
        Finding(
            "aws.s3.bucket_encrypted",
            BUCKET,
            bucket_status,
            "bucket has no default encryption",
            Severity.HIGH,
            "AwsS3Bucket",
            "eu-west-1",
            (ev[0].id,),
        ),
        Finding(
            "aws.s3.bucket_encrypted",
            "arn:aws:s3:::public-site",
            Status.FAIL,
            '=HYPERLINK("x")',
            Severity.HIGH,
            "AwsS3Bucket",
            "eu-west-1",
            (ev[0].id,),
            suppressed_by="waiver: static site",
        ),
        Finding(
            "aws.cloudtrail.enabled",
            TRAIL,
            Status.PASS,
            "trail logs all regions",
            Severity.MEDIUM,
            "AwsCloudTrailTrail",
            "eu-west-1",
            (ev[1].id,),
        ),
        Finding(
            "aws.iam.password_policy",
            f"arn:aws:iam::{ACCOUNT}:root",
            Status.ERROR,
            "iam:get_account_password_policy failed: AccessDenied",
            Severity.MEDIUM,
            "AwsAccount",
            None,
            (ev[2].id,),
        ),
        Finding(
            "aws.iam.review_access",
            f"arn:aws:iam::{ACCOUNT}:root",
            Status.MANUAL,
            "access review must be attested",
            Severity.LOW,
            "AwsAccount",
        ),
    ]
    results = [
        RequirementResult(
            "pci-dss-4.0.1",
            "3.5.1",
            RocResult.NOT_IN_PLACE,
            "1 unwaived failure",
            ("aws.s3.bucket_encrypted",),
        ),
        RequirementResult(
            "pci-dss-4.0.1", "10.2.1", RocResult.IN_PLACE, "all checks pass", ("aws.cloudtrail.enabled",)
        ),
        RequirementResult(
            "pci-dss-4.0.1",
            "8.3.6",
            RocResult.NOT_TESTED,
            "a check could not assess",
            ("aws.iam.password_policy",),
        ),
        RequirementResult("pci-dss-4.0.1", "12.1.1", RocResult.IN_PLACE, "assessed by QSA Q on 2026-01-11",
                          (), (), ("att00001",), Basis.ASSESSED, (), ("rev00001",)),
        RequirementResult("pci-dss-4.0.1", "A1.1.1", RocResult.NOT_APPLICABLE, "not a service provider",
                          basis=Basis.SCOPED, decision_ids=("dec00001",)),
        RequirementResult(
            "iso27001-2022",
            "A.8.24",
            RocResult.NOT_IN_PLACE,
            "1 unwaived failure",
            ("aws.s3.bucket_encrypted",),
        ),
        RequirementResult(
            "iso27001-2022",
            "A.8.15",
            RocResult.IN_PLACE,
            "all checks pass",
            ("aws.cloudtrail.enabled",),
            ("waiver: compensating log review",),
            waived=("aws.cloudtrail.enabled on trail/old: waiver: compensating log review",),
        ),
        RequirementResult("iso27001-2022", "A.5.1", RocResult.NOT_TESTED, "manual attestation needed"),
    ]
    waivers = [
        WaiverUse(
            "aws.s3.bucket_encrypted",
            "arn:aws:s3:::public-site",
            "static public site, no CHD",
            "ciso@example.com",
            "2026-01-25",
            "active",
            "CloudFront only",
            ("arn:aws:s3:::public-site",),
        ),
        WaiverUse("aws.cloudtrail.enabled", "*", "old", "ciso@example.com", "2025-01-01", "expired"),
    ]
    return Scan(
        target="aws",
        scope={
            "account_id": ACCOUNT,
            "regions": ["eu-west-1", "us-east-1"],
            "endpoint_url": "http://127.0.0.1:5000",
        },
        identity={"Arn": f"arn:aws:iam::{ACCOUNT}:user/auditor", "Account": ACCOUNT, "UserId": "AIDA1"},
        id=scan_id,
        started_at="2026-01-10T09:00:00.000+00:00",
        finished_at="2026-01-10T09:00:05.500+00:00",
        catalog_versions={"pci-dss-4.0.1": "2024.06", "iso27001-2022": "2022"},
        evidence=ev,
        findings=findings,
        requirement_results=results,
        waivers=waivers,
    )


def add_attestation(store: Store) -> None:
    """The attestation the scan's 12.1.1 result names, recorded (and sealed) as comply attest would."""
    digest = hashlib.sha256(ATTESTATION_BYTES).hexdigest()
    files = ({"name": "minutes.pdf", "sha256": digest, "size": len(ATTESTATION_BYTES)},)
    att = Attestation(
        "att00001",
        "pci-dss-4.0.1",
        "12.1.1",
        "ciso@example.com",
        "policy reviewed by the board",
        "2026-01-02T00:00:00+00:00",
        "2027-01-02T00:00:00+00:00",
        files,
    )
    row = AttestationRow(
        id=att.id,
        framework=att.framework,
        requirement_id=att.requirement_id,
        attested_by=att.attested_by,
        note=att.note,
        created_at=att.created_at,
        expires_at=att.expires_at,
        files=list(files),
    )
    store.add_sealed(
        row,
        "attestation",
        att.id,
        attestation_parts(att, {digest: ATTESTATION_BYTES}),
        extra=[
            AttestationFileRow(
                attestation_id="att00001", sha256=digest, name="minutes.pdf", content=ATTESTATION_BYTES
            )
        ],
    )


@pytest.fixture(autouse=True)
def config_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "config"
    monkeypatch.setenv("COMPLY_CONFIG_DIR", str(path))
    return path


@pytest.fixture
def scan() -> Scan:
    return make_scan()


@pytest.fixture
def store(tmp_path: Path) -> Store:
    s = Store(f"sqlite:///{tmp_path / 'comply.db'}")
    add_attestation(s)
    return s
