from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, absent, broken, by_resource, inventory, ok, only, run

PUSH = "aws.ecr.scan_on_push"
VULNS = "aws.ecr.image_vulnerabilities"
DIGEST = "sha256:" + "ab" * 32


def arn(name: str) -> str:
    return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{name}"


def repos(*repos: tuple[str, bool]):
    return ok("ecr", "describe_repositories", {"repositories": [
        {"repositoryName": n, "repositoryArn": arn(n), "imageScanningConfiguration": {"scanOnPush": flag}}
        for n, flag in repos]})


def registry(scan_type: str = "BASIC", *rules: tuple[str, str]):
    body = {"registryId": ACCOUNT, "scanningConfiguration": {"scanType": scan_type, "rules": [
        {"scanFrequency": freq, "repositoryFilters": [{"filter": f, "filterType": "WILDCARD"}]}
        for freq, f in rules]}}
    return ok("ecr", "get_registry_scanning_configuration", body)


def test_repository_flag_passes_under_basic_scanning():
    finding = only(PUSH, inventory(repos(("app", True)), registry()))
    assert finding.status is Status.PASS and finding.reason == "repository app scans images on push"
    assert finding.resource_id == arn("app")


def test_registry_rules_with_wildcards_cover_repositories():
    inv = inventory(repos(("prod-api", False), ("team/prod", False), ("dev", False), ("x-payments-y", False)),
                    registry("ENHANCED", ("CONTINUOUS_SCAN", "prod-*"), ("SCAN_ON_PUSH", "payments"),
                             ("MANUAL", "*")))
    found = by_resource(run(PUSH, inv))
    assert found[arn("prod-api")].status is Status.PASS
    assert "ENHANCED CONTINUOUS_SCAN rule (filter prod-*)" in found[arn("prod-api")].reason
    assert found[arn("x-payments-y")].status is Status.PASS
    assert found[arn("team/prod")].status is Status.FAIL
    assert found[arn("dev")].reason == ("repository dev does not scan images on push and no registry rule "
                                        "covers it")


def test_repository_flag_does_not_count_under_enhanced_scanning():
    finding = only(PUSH, inventory(repos(("app", True)), registry("ENHANCED", ("SCAN_ON_PUSH", "other"))))
    assert finding.status is Status.FAIL and "ENHANCED" in finding.reason


def test_registry_configuration_unknown_is_an_error():
    assert only(PUSH, inventory(repos(("app", True)))).status is Status.ERROR
    inv = inventory(repos(("app", False)), broken("ecr", "get_registry_scanning_configuration"))
    assert only(PUSH, inv).status is Status.ERROR


def images(name: str, *pushed: tuple[str, str, list[str]]):
    details = [{"repositoryName": name, "imageDigest": d, "imagePushedAt": at, "imageTags": tags}
               for d, at, tags in pushed]
    return ok("ecr", "describe_images", {"imageDetails": details}, repositoryName=name)


def scan(name: str, digest: str = DIGEST, counts: dict | None = None, status: str = "COMPLETE", **findings):
    summary = {"findingSeverityCounts": counts} if counts is not None else {}
    body = {"repositoryName": name, "imageId": {"imageDigest": digest},
            "imageScanStatus": {"status": status, "description": "done"},
            "imageScanFindings": {**summary, **findings}}
    return ok("ecr", "describe_image_scan_findings", body, repositoryName=name,
              imageId={"imageDigest": digest})


def newest_app():
    return images("app", ("sha256:old", "2025-01-01T00:00:00+00:00", ["v1"]),
                  (DIGEST, "2025-02-01T00:00:00+00:00", ["v2"]))


def test_latest_image_with_high_finding_fails_and_names_image_and_counts():
    finding = only(VULNS, inventory(repos(("app", True)), newest_app(),
                                    scan("app", counts={"HIGH": 1, "CRITICAL": 2, "LOW": 5})))
    assert finding.status is Status.FAIL
    assert finding.reason.startswith(f"repository app latest image v2 ({DIGEST[:19]}…) has 2 CRITICAL, "
                                     "1 HIGH finding(s) at or above HIGH (organisation policy, stricter than "
                                     "PCI DSS 6.3.3: any such finding fails regardless of age")
    assert finding.resource_id == arn("app")
    assert len(finding.evidence_ids) == 3


def test_findings_below_threshold_pass_and_threshold_is_an_option():
    records = (repos(("app", True)), newest_app(), scan("app", counts={"MEDIUM": 3}))
    passing = only(VULNS, inventory(*records))
    assert passing.status is Status.PASS and passing.reason.endswith("nothing at or above HIGH (3 MEDIUM)")
    assert only(VULNS, inventory(*records, options={"ecr_min_severity": "medium"})).status is Status.FAIL


def test_enhanced_findings_are_tallied_when_no_summary():
    enhanced = [{"severity": "CRITICAL"}, {"severity": "UNTRIAGED"}]
    record = scan("app", enhancedFindings=enhanced, status="ACTIVE")
    finding = only(VULNS, inventory(repos(("app", True)), newest_app(), record))
    assert finding.status is Status.FAIL and "1 CRITICAL" in finding.reason


def test_clean_scan_passes():
    finding = only(VULNS, inventory(repos(("app", True)), newest_app(), scan("app", counts={})))
    assert finding.status is Status.PASS and finding.reason.endswith("(no findings)")


def test_repository_without_images_has_no_finding():
    assert run(VULNS, inventory(repos(("app", True)), images("app"))) == []


@pytest.mark.parametrize(("record", "says"), [
    (None, "describe_image_scan_findings was not collected"),
    (absent("ecr", "describe_image_scan_findings", code="ScanNotFoundException", repositoryName="app",
            imageId={"imageDigest": DIGEST}), "latest image has not been scanned"),
    (broken("ecr", "describe_image_scan_findings", repositoryName="app", imageId={"imageDigest": DIGEST}),
     "AccessDenied"),
    (scan("app", status="FAILED"), "scan is FAILED: done"),
    (scan("app", digest="sha256:old", counts={}), "was not collected"),
])
def test_unscanned_or_unreadable_latest_image_is_an_error(record, says):
    records = [r for r in (repos(("app", True)), newest_app(), record) if r is not None]
    finding = only(VULNS, inventory(*records))
    assert finding.status is Status.ERROR
    assert says in finding.reason


def test_images_unknown_is_an_error():
    assert only(VULNS, inventory(repos(("app", True)))).status is Status.ERROR


def test_bad_threshold_option_becomes_an_error_finding():
    finding = only(VULNS, inventory(repos(("app", True)), options={"ecr_min_severity": "severe"}))
    assert finding.status is Status.ERROR
    assert "ecr_min_severity must be one of" in finding.reason


def test_listing_failure():
    finding = only(PUSH, inventory(broken("ecr", "describe_repositories")))
    assert finding.resource_id == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/*"
