"""An organisation in one scan: every member account entered, its findings kept apart, none mixed up."""

from __future__ import annotations

import pytest
from moto import mock_aws

from compliance.engine import run_scan
from compliance.errors import UsageError
from compliance.findings import Status
from compliance.organization_demo import build
from compliance.scan import finding_account
from compliance.targets.aws import AwsOrganizationTarget

REGION = "us-east-1"
SSH = "aws.ec2.sg_admin_ports_open"


@pytest.fixture(scope="module")
def organization():
    """Built once: moto makes each new account's default VPC and images, which takes seconds."""
    with pytest.MonkeyPatch.context() as env, mock_aws():
        env.setenv("AWS_DEFAULT_REGION", REGION)
        yield build(["payments", "ledger", "sandbox"], REGION, open_ssh_in=("ledger",))


def _failing_members(scan, organization, check_id):
    """Member accounts only: moto keeps one state per process, so the management account may hold
    resources other tests made."""
    evidence = scan.evidence_by_id()
    members = set(organization.members.values())
    return {finding_account(f, evidence) for f in scan.findings
            if f.check_id == check_id and f.status is Status.FAIL} & members


def test_every_account_is_scanned_and_each_violation_is_found_in_its_own_account(organization):
    scan = run_scan([AwsOrganizationTarget(regions=[REGION])])
    members = organization.members
    listed = {a["id"]: a for a in scan.scope["accounts"]}
    assert set(listed) >= {organization.management, *members.values()}  # moto: one state per process
    assert all(a["reached"] for a in listed.values())
    assert _failing_members(scan, organization, SSH) == {members["ledger"]}
    evidence = scan.evidence_by_id()
    assert {finding_account(f, evidence) for f in scan.findings} >= set(members.values())
    assert len({f.uid for f in scan.findings}) == len(scan.findings)
    assert len({r.id for r in scan.evidence}) == len(scan.evidence)
    bastion = next(f for f in scan.findings if f.check_id == SSH and f.status is Status.FAIL)
    assert "ledger-bastion" in bastion.reason and members["ledger"] in bastion.resource_id


def test_accounts_can_be_chosen_or_excluded(organization):
    members = organization.members
    only = run_scan([AwsOrganizationTarget(regions=[REGION], accounts=[members["payments"]])])
    assert [a["id"] for a in only.scope["accounts"]] == [members["payments"]]
    assert _failing_members(only, organization, SSH) == set()
    rest = run_scan([AwsOrganizationTarget(regions=[REGION], exclude_accounts=[members["payments"]])])
    assert members["payments"] not in {a["id"] for a in rest.scope["accounts"]}
    assert _failing_members(rest, organization, SSH) == {members["ledger"]}
    left_out = {line.split(" ")[1]: line for line in rest.scope["excluded"] if line.startswith("account ")}
    assert left_out[members["payments"]].endswith(": excluded with --exclude-accounts")
    assert only.scope["excluded"][0].endswith(": not selected (--accounts)")


@pytest.mark.parametrize(("accounts", "message"), [
    (["999999999999"], "not in the organisation"),
    (["12345"], "malformed account id"),
])
def test_an_account_outside_the_organisation_is_a_usage_error(organization, accounts, message):
    with pytest.raises(UsageError, match=message):
        run_scan([AwsOrganizationTarget(regions=[REGION], accounts=accounts)])
