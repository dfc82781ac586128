"""Connecting: every bad input is one clear UsageError before any scan work starts."""

from __future__ import annotations

import pytest
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from compliance.collect.aws.session import connect, known_regions
from compliance.demo import free_port
from compliance.errors import UsageError


@mock_aws
def test_connect_reads_identity_and_keeps_the_regions_asked_for():
    target = connect(regions=["eu-west-1", "us-east-1", "eu-west-1"])
    assert target.account_id == "123456789012"
    assert target.regions == ["eu-west-1", "us-east-1"]
    assert target.home_region == "us-east-1"
    assert target.identity_record.response["Account"] == "123456789012"


@mock_aws
def test_default_regions_are_the_accounts_enabled_regions():
    target = connect()
    assert "us-east-1" in target.regions and "eu-west-1" in target.regions
    assert target.home_region == "us-east-1"


@mock_aws
def test_an_assumed_role_is_who_the_scan_runs_as():
    target = connect(
        role_arn="arn:aws:iam::123456789012:role/auditor", external_id="x-1", regions=["us-east-1"]
    )
    assert ":assumed-role/auditor/" in target.identity["Arn"]


@pytest.mark.parametrize(
    "arn", ["arn:aws:iam::12345:role/x", "role/auditor", "arn:aws:iam::123456789012:user/x"]
)
def test_malformed_role_arn(arn):
    with pytest.raises(UsageError, match="malformed role ARN"):
        connect(role_arn=arn, regions=["us-east-1"])


def test_unknown_region():
    with pytest.raises(UsageError, match="unknown AWS region mars-north-1"):
        connect(regions=["us-east-1", "mars-north-1"])
    assert "eu-central-1" in known_regions(__import__("boto3").Session())


def test_unreachable_endpoint():
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(UsageError, match=f"cannot reach the AWS endpoint {url}"):
        connect(regions=["us-east-1"], endpoint_url=url)


def test_malformed_endpoint():
    with pytest.raises(UsageError, match="malformed endpoint URL"):
        connect(regions=["us-east-1"], endpoint_url="localhost:5000")


def test_missing_credentials(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name)
    with pytest.raises(UsageError, match="no AWS credentials found"):
        connect(regions=["us-east-1"], endpoint_url=f"http://127.0.0.1:{free_port()}")


def test_unknown_profile():
    with pytest.raises(UsageError, match="profile 'nope' not found"):
        connect(profile="nope", regions=["us-east-1"])


@set_initial_no_auth_action_count(0)
@mock_aws
def test_credentials_the_account_rejects_are_one_line(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAUNKNOWN00000000")
    with pytest.raises(UsageError, match="cannot assume") as err:
        connect(role_arn="arn:aws:iam::123456789012:role/auditor", regions=["us-east-1"])
    assert "\n" not in str(err.value)
    with pytest.raises(UsageError, match="AWS rejected the credentials: InvalidClientTokenId"):
        connect(regions=["us-east-1"])


def test_an_account_that_is_not_in_an_organisation_is_told_so():
    from compliance.engine import run_scan
    from compliance.targets.aws import AwsOrganizationTarget

    with mock_aws(), pytest.raises(UsageError, match=r"lists no account|cannot list the organisation"):
        run_scan([AwsOrganizationTarget(regions=["us-east-1"])])
