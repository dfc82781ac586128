from __future__ import annotations

from typing import Any

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, OTHER, REGION, broken, by_resource, inventory, ok, only, run

ADMIN = "aws.ec2.sg_admin_ports_open"
ALL = "aws.ec2.sg_all_traffic_open"
DEFAULT = "aws.ec2.default_sg_restricted"
EBS = "aws.ec2.ebs_default_encryption"


def perm(protocol: str, low: int | None = None, high: int | None = None, *, v4: tuple[str, ...] = (),
         v6: tuple[str, ...] = ()) -> dict[str, Any]:
    rule: dict[str, Any] = {"IpProtocol": protocol, "UserIdGroupPairs": [], "PrefixListIds": [],
                            "IpRanges": [{"CidrIp": c} for c in v4],
                            "Ipv6Ranges": [{"CidrIpv6": c} for c in v6]}
    if low is not None:
        rule |= {"FromPort": low, "ToPort": low if high is None else high}
    return rule


def group(gid: str = "sg-0abc", name: str = "web", ingress: tuple = (), egress: tuple = (),
          region: str = REGION) -> dict[str, Any]:
    return {"GroupId": gid, "GroupName": name, "VpcId": "vpc-1", "OwnerId": ACCOUNT, "Description": "d",
            "SecurityGroupArn": f"arn:aws:ec2:{region}:{ACCOUNT}:security-group/{gid}",
            "IpPermissions": list(ingress), "IpPermissionsEgress": list(egress)}


def groups_inv(*groups: dict[str, Any]):
    return inventory(ok("ec2", "describe_security_groups", {"SecurityGroups": list(groups)}))


def admin(*ingress: dict[str, Any]):
    return only(ADMIN, groups_inv(group(ingress=ingress)))


def test_ssh_open_to_the_world_fails_and_names_the_port():
    finding = admin(perm("tcp", 22, v4=("0.0.0.0/0",)))
    assert finding.status is Status.FAIL
    assert finding.reason == "sg-0abc (web) allows 0.0.0.0/0 on tcp 22 (SSH)"
    assert finding.resource_id == f"arn:aws:ec2:{REGION}:{ACCOUNT}:security-group/sg-0abc"
    assert finding.region == REGION
    assert finding.evidence_ids and finding.evidence_ids[0].startswith("aws:ec2.describe_security_groups@")


def test_ipv6_world_on_rdp_fails():
    finding = admin(perm("tcp", 3389, v6=("::/0",)))
    assert finding.status is Status.FAIL
    assert "::/0 on tcp 3389 (RDP)" in finding.reason


@pytest.mark.parametrize(("low", "high", "named"), [
    (20, 25, "21 (FTP), 22 (SSH), 23 (Telnet)"),
    (1000, 2000, "1433 (SQL Server), 1521 (Oracle)"),
    (5432, 5432, "5432 (PostgreSQL)"),
])
def test_port_ranges_covering_admin_ports_fail(low, high, named):
    finding = admin(perm("tcp", low, high, v4=("0.0.0.0/0",)))
    assert finding.status is Status.FAIL
    assert named in finding.reason


def test_wide_range_lists_a_few_ports_and_counts_the_rest():
    finding = admin(perm("tcp", 1, 30000, v4=("0.0.0.0/0",)))
    assert finding.status is Status.FAIL
    assert finding.reason == ("sg-0abc (web) allows 0.0.0.0/0 on tcp ports 1-30000, including 21 (FTP), "
                              "22 (SSH), 23 (Telnet), 135 (MS RPC) and 16 more")


def test_all_traffic_rule_fails_both_checks():
    inv = groups_inv(group(ingress=(perm("-1", v4=("0.0.0.0/0",)),)))
    admin_finding, all_finding = only(ADMIN, inv), only(ALL, inv)
    assert admin_finding.status is Status.FAIL
    assert "on all traffic, including 21 (FTP)" in admin_finding.reason
    assert all_finding.status is Status.FAIL
    assert all_finding.reason == "sg-0abc (web) allows all traffic from 0.0.0.0/0"


def test_udp_memcached_open_fails():
    assert "udp 11211 (Memcached)" in admin(perm("udp", 11211, v4=("0.0.0.0/0",))).reason


@pytest.mark.parametrize("ingress", [
    (perm("tcp", 443, v4=("0.0.0.0/0",), v6=("::/0",)), perm("tcp", 80, v4=("0.0.0.0/0",))),
    (perm("tcp", 22, v4=("10.0.0.0/8",)), perm("-1", v4=("192.168.0.0/16",))),
    (perm("icmp", -1, -1, v4=("0.0.0.0/0",)),),
    (perm("tcp", 22, v4=("0.0.0.0/1",)),),
    (perm("50", v4=("0.0.0.0/0",)),),
    (),
])
def test_web_ports_private_sources_and_portless_protocols_pass(ingress):
    inv = groups_inv(group(ingress=ingress))
    for check_id in (ADMIN, ALL):
        finding = only(check_id, inv)
        assert finding.status is Status.PASS, finding.reason
        assert finding.reason.startswith("sg-0abc (web) ")


def test_full_tcp_range_counts_as_all_traffic():
    finding = only(ALL, groups_inv(group(ingress=(perm("tcp", 0, 65535, v6=("::/0",)),))))
    assert finding.status is Status.FAIL
    assert finding.reason == "sg-0abc (web) allows tcp all ports from ::/0"


def test_tcp_without_ports_is_treated_as_every_port():
    finding = only(ALL, groups_inv(group(ingress=(perm("6", v4=("0.0.0.0/0",)),))))
    assert finding.status is Status.FAIL


def test_each_group_gets_its_own_finding():
    inv = groups_inv(group("sg-1", "a", (perm("tcp", 22, v4=("0.0.0.0/0",)),)), group("sg-2", "b"))
    found = by_resource(run(ADMIN, inv))
    assert [f.status for f in found.values()] == [Status.FAIL, Status.PASS]


def test_failed_region_listing_is_one_error_and_other_regions_still_evaluated():
    inv = inventory(ok("ec2", "describe_security_groups", {"SecurityGroups": [group()]}),
                    broken("ec2", "describe_security_groups", region=OTHER), regions=(REGION, OTHER))
    found = by_resource(run(ADMIN, inv))
    error = found[f"arn:aws:ec2:{OTHER}:{ACCOUNT}:security-group/*"]
    assert error.status is Status.ERROR
    assert error.region == OTHER
    assert "AccessDenied" in error.reason and OTHER in error.reason
    assert error.evidence_ids == (broken("ec2", "describe_security_groups", region=OTHER).id,)
    assert found[group()["SecurityGroupArn"]].status is Status.PASS


def test_region_never_collected_is_an_error_not_an_empty_region():
    finding = only(ALL, inventory(regions=(REGION,)))
    assert finding.status is Status.ERROR
    assert "NotCollected" in finding.reason


def test_malformed_group_becomes_an_error_finding_through_the_registry():
    bad = group()
    del bad["GroupId"]
    finding = only(ADMIN, groups_inv(bad))
    assert finding.status is Status.ERROR
    assert finding.resource_id == f"check:{ADMIN}"
    assert "KeyError" in finding.reason


def test_default_group_without_rules_passes():
    finding = only(DEFAULT, groups_inv(group("sg-d", "default"), group("sg-w", "web", egress=(perm("-1"),))))
    assert finding.status is Status.PASS
    assert finding.reason == "default security group sg-d of vpc-1 has no rules"


def test_default_group_with_rules_fails():
    egress = (perm("-1", v4=("0.0.0.0/0",)),)
    finding = only(DEFAULT, groups_inv(group("sg-d", "default", egress=egress)))
    assert finding.status is Status.FAIL
    assert finding.reason == "default security group sg-d of vpc-1 has 0 inbound and 1 outbound rules"


def test_ebs_encryption_by_default_per_region():
    on, off = {"EbsEncryptionByDefault": True}, {"EbsEncryptionByDefault": False}
    inv = inventory(ok("ec2", "get_ebs_encryption_by_default", on),
                    ok("ec2", "get_ebs_encryption_by_default", off, region=OTHER), regions=(REGION, OTHER))
    found = by_resource(run(EBS, inv))
    assert found[f"arn:aws:ec2:{REGION}:{ACCOUNT}:ebs-encryption-by-default"].status is Status.PASS
    off = found[f"arn:aws:ec2:{OTHER}:{ACCOUNT}:ebs-encryption-by-default"]
    assert off.status is Status.FAIL and off.reason == f"EBS encryption by default is off in {OTHER}"


@pytest.mark.parametrize("records", [
    (),
    (broken("ec2", "get_ebs_encryption_by_default"),),
    (ok("ec2", "get_ebs_encryption_by_default", {}),),
])
def test_ebs_setting_unknown_is_an_error(records):
    finding = only(EBS, inventory(*records))
    assert finding.status is Status.ERROR
    assert REGION in finding.reason
