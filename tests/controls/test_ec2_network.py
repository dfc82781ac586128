"""EC2/VPC checks: SSH, RDP and non-web ports, flow logs, snapshots, volumes, IMDSv2, public addresses,
subnets and network ACLs; SSM management and patching of instances."""

from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, inventory, ok, only, run


def sg(name: str, *perms: dict) -> dict:
    return {"GroupId": f"sg-{name}", "GroupName": name, "IpPermissions": list(perms)}


def world(port_from: int, port_to: int, v6: bool = False, protocol: str = "tcp") -> dict:
    key, cidr = ("Ipv6Ranges", {"CidrIpv6": "::/0"}) if v6 else ("IpRanges", {"CidrIp": "0.0.0.0/0"})
    return {"IpProtocol": protocol, "FromPort": port_from, "ToPort": port_to, key: [cidr]}


def groups(*items: dict):
    return inventory(ok("ec2", "describe_security_groups", {"SecurityGroups": list(items)}))


def statuses(check_id, inv):
    return {f.resource_id.rsplit("/", 1)[-1]: f.status for f in run(check_id, inv)}


@pytest.mark.parametrize(("check_id", "port"), [("aws.ec2.sg_ssh_open", 22), ("aws.ec2.sg_rdp_open", 3389)])
def test_ssh_and_rdp_from_anywhere(check_id, port):
    inv = groups(sg("v4", world(port, port)), sg("v6", world(0, 65535, v6=True)), sg("web", world(443, 443)))
    assert statuses(check_id, inv) == {"sg-v4": Status.FAIL, "sg-v6": Status.FAIL, "sg-web": Status.PASS}


def test_only_web_ports_public():
    inv = groups(
        sg("web", world(80, 80), world(443, 443, v6=True)),
        sg("range", world(80, 443)),
        sg("admin", world(8443, 8443)),
    )
    assert statuses("aws.ec2.sg_only_web_ports_public", inv) == {
        "sg-web": Status.PASS,
        "sg-range": Status.FAIL,
        "sg-admin": Status.FAIL,
    }


def test_vpc_flow_logs():
    inv = inventory(
        ok("ec2", "describe_vpcs", {"Vpcs": [{"VpcId": "vpc-a"}, {"VpcId": "vpc-b", "IsDefault": True}]}),
        ok(
            "ec2",
            "describe_flow_logs",
            {
                "FlowLogs": [
                    {
                        "ResourceId": "vpc-a",
                        "FlowLogStatus": "ACTIVE",
                        "FlowLogId": "fl-1",
                        "TrafficType": "ALL",
                    }
                ]
            },
        ),
    )
    found = {f.resource_id.rsplit("/", 1)[-1]: f for f in run("aws.ec2.vpc_flow_logs", inv)}
    assert found["vpc-a"].status is Status.PASS and found["vpc-b"].status is Status.FAIL
    assert len(found["vpc-b"].evidence_ids) == 2  # the VPC listing and the flow log listing that shows none
    missing = inventory(ok("ec2", "describe_vpcs", {"Vpcs": [{"VpcId": "vpc-a"}]}))
    assert only("aws.ec2.vpc_flow_logs", missing).status is Status.ERROR


def snapshots(*items: dict):
    return ok("ec2", "describe_snapshots", {"Snapshots": list(items)}, OwnerIds=["self"])


def test_snapshots_public_and_encrypted():
    own = {"SnapshotId": "snap-1", "OwnerId": ACCOUNT, "Encrypted": True}
    shared = {"SnapshotId": "snap-2", "OwnerId": ACCOUNT, "Encrypted": False}
    lost = {"SnapshotId": "snap-3", "OwnerId": ACCOUNT, "Encrypted": True}
    foreign = {"SnapshotId": "snap-9", "OwnerId": "999999999999", "Encrypted": False}

    def attr(snap_id, perms):
        return ok(
            "ec2",
            "describe_snapshot_attribute",
            {"CreateVolumePermissions": perms},
            SnapshotId=snap_id,
            Attribute="createVolumePermission",
        )

    inv = inventory(
        snapshots(own, shared, lost, foreign), attr("snap-1", []), attr("snap-2", [{"Group": "all"}])
    )
    assert statuses("aws.ec2.snapshot_not_public", inv) == {
        "snap-1": Status.PASS,
        "snap-2": Status.FAIL,
        "snap-3": Status.ERROR,
    }
    assert statuses("aws.ec2.snapshot_encrypted", inv) == {
        "snap-1": Status.PASS,
        "snap-2": Status.FAIL,
        "snap-3": Status.PASS,
    }


def test_volume_encrypted():
    inv = inventory(
        ok(
            "ec2",
            "describe_volumes",
            {
                "Volumes": [
                    {"VolumeId": "vol-1", "Encrypted": True},
                    {"VolumeId": "vol-2", "Encrypted": False},
                ]
            },
        )
    )
    assert statuses("aws.ec2.volume_encrypted", inv) == {"vol-1": Status.PASS, "vol-2": Status.FAIL}


def instances(*items: dict):
    return ok("ec2", "describe_instances", {"Reservations": [{"Instances": list(items)}]})


def test_imdsv2_and_public_addresses():
    inv = inventory(
        instances(
            {"InstanceId": "i-good", "MetadataOptions": {"HttpTokens": "required"}},
            {
                "InstanceId": "i-old",
                "MetadataOptions": {"HttpTokens": "optional"},
                "PublicIpAddress": "1.2.3.4",
            },
            {"InstanceId": "i-off", "MetadataOptions": {"HttpEndpoint": "disabled"}},
            {"InstanceId": "i-odd"},
            {"InstanceId": "i-gone", "State": {"Name": "terminated"}},
        )
    )
    assert statuses("aws.ec2.imdsv2_required", inv) == {
        "i-good": Status.PASS,
        "i-old": Status.FAIL,
        "i-off": Status.PASS,
        "i-odd": Status.ERROR,
    }
    public = statuses("aws.ec2.instance_no_public_ip", inv)
    assert public["i-old"] is Status.FAIL and public["i-good"] is Status.PASS and "i-gone" not in public


def test_subnets_and_nacls():
    subnets = ok(
        "ec2",
        "describe_subnets",
        {
            "Subnets": [
                {"SubnetId": "s-pub", "MapPublicIpOnLaunch": True},
                {"SubnetId": "s-priv", "MapPublicIpOnLaunch": False},
                {"SubnetId": "s-odd"},
            ]
        },
    )
    assert statuses("aws.ec2.subnet_no_auto_public_ip", inventory(subnets)) == {
        "s-pub": Status.FAIL,
        "s-priv": Status.PASS,
        "s-odd": Status.ERROR,
    }
    allow_all = {
        "RuleNumber": 100,
        "Protocol": "-1",
        "RuleAction": "allow",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
    }
    web = {
        "RuleNumber": 100,
        "Protocol": "6",
        "RuleAction": "allow",
        "Egress": False,
        "CidrBlock": "0.0.0.0/0",
        "PortRange": {"From": 443, "To": 443},
    }
    deny = {**allow_all, "RuleAction": "deny"}
    nacls = ok(
        "ec2",
        "describe_network_acls",
        {
            "NetworkAcls": [
                {"NetworkAclId": "acl-open", "Entries": [allow_all]},
                {"NetworkAclId": "acl-web", "Entries": [web, deny]},
            ]
        },
    )
    found = {
        f.resource_id.rsplit("/", 1)[-1]: f for f in run("aws.ec2.nacl_admin_ports_open", inventory(nacls))
    }
    assert found["acl-open"].status is Status.FAIL and "port 22/3389" in found["acl-open"].reason
    assert found["acl-web"].status is Status.PASS


def test_ssm_management_and_patching():
    listing = instances({"InstanceId": "i-a"}, {"InstanceId": "i-b"}, {"InstanceId": "i-c"})
    info = ok(
        "ssm",
        "describe_instance_information",
        {"InstanceInformationList": [{"InstanceId": "i-a", "PingStatus": "Online"}, {"InstanceId": "i-c"}]},
    )
    patches = ok(
        "ssm",
        "list_resource_compliance_summaries",
        {
            "ResourceComplianceSummaryItems": [
                {"ResourceId": "i-a", "ComplianceType": "Patch", "Status": "COMPLIANT"},
                {
                    "ResourceId": "i-c",
                    "ComplianceType": "Patch",
                    "Status": "NON_COMPLIANT",
                    "NonCompliantSummary": {"NonCompliantCount": 3},
                },
            ]
        },
    )
    inv = inventory(listing, info, patches)
    assert statuses("aws.ssm.instance_managed", inv) == {
        "i-a": Status.PASS,
        "i-b": Status.FAIL,
        "i-c": Status.PASS,
    }
    patched = {f.resource_id.rsplit("/", 1)[-1]: f for f in run("aws.ssm.patch_compliant", inv)}
    assert patched["i-a"].status is Status.PASS and patched["i-b"].status is Status.FAIL
    assert patched["i-c"].status is Status.FAIL and "missing 3 patch" in patched["i-c"].reason
    for check_id in ("aws.ssm.instance_managed", "aws.ssm.patch_compliant"):
        assert {f.status for f in run(check_id, inventory(listing))} == {Status.ERROR}
    assert (
        run("aws.ssm.instance_managed", inventory(ok("ec2", "describe_instances", {"Reservations": []})))
        == []
    )
    assert REGION in patched["i-a"].resource_id
