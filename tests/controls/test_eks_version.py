"""aws.eks.supported_version: the Kubernetes version against AWS's support calendar, at collection time."""

from __future__ import annotations

import datetime as dt

import pytest

from compliance.findings import Status
from controls.aws.eks import support_verdict
from tests.controls.builders import broken, inventory, only
from tests.controls.test_eks import cluster, listed

VERSION = "aws.eks.supported_version"


@pytest.mark.parametrize(("version", "status", "says"), [
    ("1.31", Status.PASS, "runs Kubernetes 1.31, in standard support until 2025-11-26"),
    ("1.28", Status.PASS, "in extended support (patched until 2025-11-26; standard support ended on "
                          "2024-11-26): plan the upgrade"),
    ("1.23", Status.FAIL, "whose extended support ended on 2024-10-11: AWS no longer patches it"),
    ("1.19", Status.FAIL, "runs Kubernetes 1.19, older than 1.23: out of AWS support"),
    ("1.99", Status.PASS, "newer than the support calendar this release knows"),
    ("latest", Status.ERROR, "which is not a version number"),
])
def test_versions_are_judged_on_the_day_the_evidence_was_collected(version, status, says):
    finding = only(VERSION, inventory(listed("payments"), cluster(version=version)))
    assert finding.status is status and says in finding.reason
    assert finding.resource_id.endswith(":cluster/payments") and len(finding.evidence_ids) == 2


def test_a_cluster_without_a_version_or_description_is_an_error():
    assert "Kubernetes version is not stated" in only(VERSION, inventory(listed("p"), cluster("p"))).reason
    inv = inventory(listed("p"), broken("eks", "describe_cluster", name="p"))
    assert only(VERSION, inv).status is Status.ERROR


def test_extended_support_ends_the_day_after_its_last_day():
    assert support_verdict("1.30", dt.date(2026, 7, 23))[0] is True
    assert support_verdict("1.30.2", dt.date(2026, 7, 24))[0] is False
