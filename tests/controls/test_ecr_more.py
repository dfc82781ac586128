"""ECR checks added for issue 13: findings overdue by severity and age, immutable tags, public policies."""

from __future__ import annotations

import json

from compliance.findings import Status
from tests.controls.builders import absent, broken, by_resource, inventory, ok, only, run
from tests.controls.test_ecr import DIGEST, arn, images, scan

OVERDUE, IMMUTABLE, POLICY = ("aws.ecr.findings_overdue", "aws.ecr.immutable_tags",
                              "aws.ecr.repository_policy_not_public")


def repos(*repos: tuple[str, str | None]):
    return ok("ecr", "describe_repositories", {"repositories": [
        {"repositoryName": n, "repositoryArn": arn(n),
         **({"imageTagMutability": mutability} if mutability else {})} for n, mutability in repos]})


def pushed(at: str):
    """The evidence records' collection time is 2025-01-01 (tests.controls.builders.WHEN)."""
    return images("app", (DIGEST, at, ["v2"]))


def test_a_high_finding_older_than_the_deadline_fails_and_a_recent_one_passes():
    old = inventory(repos(("app", None)), pushed("2024-11-01T00:00:00+00:00"),
                    scan("app", findings=[{"name": "CVE-2024-1", "severity": "HIGH"},
                                          {"name": "CVE-2024-2", "severity": "LOW"}]))
    finding = only(OVERDUE, old)
    assert finding.status is Status.FAIL and finding.resource_id == arn("app")
    assert finding.reason.endswith("has 1 finding(s) at or above HIGH open longer than 30 days "
                                   "(oldest: CVE-2024-1, HIGH, 61 days)")
    assert len(finding.evidence_ids) == 3
    recent = inventory(repos(("app", None)), pushed("2024-12-20T00:00:00+00:00"),
                       scan("app", findings=[{"name": "CVE-2024-1", "severity": "CRITICAL"}]))
    assert only(OVERDUE, recent).reason.endswith("at or above HIGH, none open longer than 30 days")
    assert only(OVERDUE, recent).status is Status.PASS


def test_enhanced_findings_are_aged_from_first_observation_and_the_deadline_is_an_option():
    enhanced = [{"severity": "CRITICAL", "firstObservedAt": "2024-12-10T00:00:00+00:00",
                 "packageVulnerabilityDetails": {"vulnerabilityId": "CVE-2024-9"}},
                {"severity": "MEDIUM", "firstObservedAt": "2023-01-01T00:00:00+00:00"}]
    records = (repos(("app", None)), pushed("2023-01-01T00:00:00+00:00"),
               scan("app", enhancedFindings=enhanced, status="ACTIVE"))
    assert only(OVERDUE, inventory(*records)).status is Status.PASS
    strict = only(OVERDUE, inventory(*records, options={"ecr_max_finding_age_days": 7}))
    assert strict.status is Status.FAIL and "(oldest: CVE-2024-9, CRITICAL, 22 days)" in strict.reason
    bad = only(OVERDUE, inventory(*records, options={"ecr_max_finding_age_days": -1}))
    assert bad.status is Status.ERROR and "whole number of days >= 0, not -1" in bad.reason


def test_summary_counts_alone_are_aged_by_the_push_and_a_clean_scan_passes():
    counted = inventory(repos(("app", None)), pushed("2024-10-01T00:00:00+00:00"),
                        scan("app", counts={"CRITICAL": 2}))
    assert "2 finding(s) at or above HIGH open longer than 30 days" in only(OVERDUE, counted).reason
    clean = inventory(repos(("app", None)), pushed("2024-10-01T00:00:00+00:00"), scan("app", counts={}))
    assert only(OVERDUE, clean).reason.endswith("has no finding at or above HIGH")


def test_a_finding_without_any_date_or_an_unscanned_image_is_an_error():
    undated = inventory(repos(("app", None)), images("app", (DIGEST, "", ["v2"])),
                        scan("app", findings=[{"name": "CVE-1", "severity": "HIGH"}]))
    finding = only(OVERDUE, undated)
    assert finding.status is Status.ERROR and "cannot tell how long CVE-1 has been open" in finding.reason
    missing = only(OVERDUE, inventory(repos(("app", None)), pushed("2024-12-01T00:00:00+00:00")))
    assert missing.status is Status.ERROR
    assert "describe_image_scan_findings was not collected" in missing.reason


def test_tag_mutability_pass_fail_and_unknown():
    found = by_resource(run(IMMUTABLE, inventory(repos(("a", "IMMUTABLE"), ("b", "MUTABLE"), ("c", None)))))
    assert found[arn("a")].status is Status.PASS
    assert found[arn("b")].status is Status.FAIL
    assert found[arn("b")].reason == "repository b lets pushed images replace existing tags (MUTABLE)"
    assert found[arn("c")].status is Status.ERROR
    listing = only(IMMUTABLE, inventory(broken("ecr", "describe_repositories")))
    assert listing.status is Status.ERROR and listing.resource_id == arn("*")


def policy(name: str, *statements: dict):
    text = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    body = {"repositoryName": name, "policyText": text}
    return ok("ecr", "get_repository_policy", body, repositoryName=name)


def test_repository_policies_open_to_everyone_fail():
    everyone = {"Sid": "pull", "Effect": "Allow", "Principal": "*", "Action": "ecr:BatchGetImage"}
    org_only = {**everyone, "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-1"}}}
    inv = inventory(repos(("open", None), ("org", None), ("none", None)), policy("open", everyone),
                    policy("org", org_only),
                    absent("ecr", "get_repository_policy", code="RepositoryPolicyNotFoundException",
                           repositoryName="none"))
    found = by_resource(run(POLICY, inv))
    assert found[arn("open")].status is Status.FAIL
    assert found[arn("open")].reason == ("repository open has a policy granting everyone access "
                                         "(statement pull)")
    assert found[arn("org")].status is Status.PASS
    assert found[arn("none")].reason.endswith("has no repository policy (access comes from IAM only)")
    assert len(found[arn("open")].evidence_ids) == 2


def test_repository_policy_unknown_is_an_error():
    inv = inventory(repos(("app", None)), broken("ecr", "get_repository_policy", repositoryName="app"))
    finding = only(POLICY, inv)
    assert finding.status is Status.ERROR
    assert "policy unknown: " in finding.reason and "AccessDenied" in finding.reason


def test_the_scan_option_reaches_the_check():
    """--ecr-max-finding-age is stored with the scan's options, which the inventory hands to the check."""
    from compliance.targets.aws import AwsTarget

    assert AwsTarget(ecr_max_finding_age=7).check_options() == {"ecr_min_severity": "HIGH",
                                                                "ecr_max_finding_age_days": 7}
