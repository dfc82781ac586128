"""An emulated AWS Organization with planted gaps in its member accounts, for tests and benchmarks."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import boto3

MEMBER_ROLE = "OrganizationAccountAccessRole"


@dataclass(frozen=True)
class Organization:
    management: str
    members: dict[str, str]
    """Member account id by account name."""


def _session_in(account_id: str, region: str, endpoint: str | None) -> boto3.Session:
    sts = boto3.client("sts", region_name=region, endpoint_url=endpoint)
    creds = sts.assume_role(RoleArn=f"arn:aws:iam::{account_id}:role/{MEMBER_ROLE}",
                            RoleSessionName="provision")["Credentials"]
    return boto3.Session(aws_access_key_id=creds["AccessKeyId"],
                         aws_secret_access_key=creds["SecretAccessKey"],
                         aws_session_token=creds["SessionToken"], region_name=region)


def build(names: list[str], region: str, endpoint: str | None = None,
          open_ssh_in: tuple[str, ...] = ()) -> Organization:
    """An organisation whose members are named `names`; those in `open_ssh_in` get a security group
    that opens SSH to the internet, and every member gets one correctly closed group beside it.

    An organisation that already exists (moto keeps one state per process) gains these members.
    """
    org = boto3.client("organizations", region_name=region, endpoint_url=endpoint)
    with contextlib.suppress(org.exceptions.AlreadyInOrganizationException):
        org.create_organization(FeatureSet="ALL")
    members = {}
    for name in names:
        status = org.create_account(Email=f"{name}@example.test", AccountName=name)["CreateAccountStatus"]
        members[name] = status["AccountId"]
    for name, account_id in members.items():
        ec2 = _session_in(account_id, region, endpoint).client("ec2", endpoint_url=endpoint)
        ec2.create_security_group(GroupName=f"{name}-internal", Description="closed")
        if name in open_ssh_in:
            group = ec2.create_security_group(GroupName=f"{name}-bastion", Description="open ssh")["GroupId"]
            ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
                "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    sts = boto3.client("sts", region_name=region, endpoint_url=endpoint)
    return Organization(sts.get_caller_identity()["Account"], members)
