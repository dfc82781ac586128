"""EC2 checks: security groups open to the internet, the default group, EBS encryption by default."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import listing_errors, unusable
from controls.registry import Verdict, check, errored, failed, passed

WORLD = ("0.0.0.0/0", "::/0")

ADMIN_PORTS: dict[int, str] = {
    21: "FTP", 22: "SSH", 23: "Telnet", 135: "MS RPC", 139: "NetBIOS", 445: "SMB", 1433: "SQL Server",
    1521: "Oracle", 2375: "Docker API", 2379: "etcd", 3306: "MySQL", 3389: "RDP", 5432: "PostgreSQL",
    5601: "Kibana", 5984: "CouchDB", 6379: "Redis", 9200: "Elasticsearch", 9300: "Elasticsearch transport",
    11211: "Memcached", 27017: "MongoDB",
}

_PROTOCOLS = {"-1": "all traffic", "tcp": "tcp", "6": "tcp", "udp": "udp", "17": "udp"}
_SHOWN_PORTS = 4


@dataclass(frozen=True)
class OpenRule:
    """One ingress permission reachable from the whole internet."""

    cidr: str
    protocol: str
    """"all traffic", "tcp" or "udp"."""
    low: int
    high: int

    @property
    def all_ports(self) -> bool:
        return self.protocol == "all traffic" or (self.low <= 0 and self.high >= 65535)

    def covers(self, port: int) -> bool:
        return self.low <= port <= self.high

    def describe(self) -> str:
        if self.protocol == "all traffic":
            return "all traffic"
        ports = "all ports" if self.all_ports else str(self.low) if self.low == self.high else \
            f"ports {self.low}-{self.high}"
        return f"{self.protocol} {ports}"


def open_rules(group: Item) -> list[OpenRule]:
    """The group's ingress rules open to 0.0.0.0/0 or ::/0 on a protocol that has ports."""
    rules = []
    for perm in group.get("IpPermissions") or []:
        protocol = _PROTOCOLS.get(str(perm.get("IpProtocol", "")).lower())
        if protocol is None:
            continue
        low, high = _port_range(perm, protocol)
        cidrs = [r.get("CidrIp") for r in perm.get("IpRanges") or []]
        cidrs += [r.get("CidrIpv6") for r in perm.get("Ipv6Ranges") or []]
        rules.extend(OpenRule(cidr, protocol, low, high) for cidr in cidrs if cidr in WORLD)
    return rules


def _port_range(perm: dict[str, Any], protocol: str) -> tuple[int, int]:
    if protocol == "all traffic" or perm.get("FromPort") in (None, -1):
        return 0, 65535
    return int(perm["FromPort"]), int(perm.get("ToPort", perm["FromPort"]))


def group_arn(inv: AwsInventory, group: Item) -> str:
    return group.get("SecurityGroupArn") or inv.arn("ec2", group.region, f"security-group/{group['GroupId']}")


def group_label(group: Item) -> str:
    return f"{group['GroupId']} ({group.get('GroupName', '?')})"


def _security_groups(inv: AwsInventory) -> tuple[list[Item], list[Verdict]]:
    groups, failures = inv.listing("ec2", "describe_security_groups", "SecurityGroups")
    return groups, list(listing_errors(inv, failures, "ec2", "security-group/*"))


def _admin_exposure(rule: OpenRule) -> str | None:
    ports = [f"{port} ({name})" for port, name in ADMIN_PORTS.items() if rule.covers(port)]
    if not ports:
        return None
    if rule.all_ports or len(ports) > _SHOWN_PORTS:
        shown = ", ".join(ports[:_SHOWN_PORTS])
        more = len(ports) - _SHOWN_PORTS
        tail = f" and {more} more" if more > 0 else ""
        return f"{rule.cidr} on {rule.describe()}, including {shown}{tail}"
    if rule.low == rule.high:
        return f"{rule.cidr} on {rule.protocol} {ports[0]}"
    return f"{rule.cidr} on {rule.describe()}, covering {', '.join(ports)}"


@check("aws.ec2.sg_admin_ports_open", severity=Severity.HIGH, resource_type="AwsEc2SecurityGroup",
       title="No security group opens administrative or database ports to the internet",
       rationale="""Remote administration and database ports reachable from anywhere invite brute force
       and exploitation of the services behind them. Only the public web ports should face the internet.""",
       remediation="""In the EC2 console (Security Groups > Edit inbound rules) or with
       `aws ec2 revoke-security-group-ingress`, remove the 0.0.0.0/0 and ::/0 sources from these ports and
       allow only known administration networks, a bastion's security group or Systems Manager Session
       Manager.""")
def sg_admin_ports_open(inv: AwsInventory) -> Iterator[Verdict]:
    groups, errors = _security_groups(inv)
    yield from errors
    for group in groups:
        exposures = [e for e in map(_admin_exposure, open_rules(group)) if e]
        arn = group_arn(inv, group)
        if exposures:
            yield failed(arn, f"{group_label(group)} allows {'; '.join(exposures)}", group.record,
                         region=group.region)
        else:
            yield passed(arn, f"{group_label(group)} opens no administrative or database port to the "
                         "internet", group.record, region=group.region)


@check("aws.ec2.sg_all_traffic_open", severity=Severity.CRITICAL, resource_type="AwsEc2SecurityGroup",
       title="No security group admits all traffic from the internet",
       rationale="""A rule that admits every protocol or every port from anywhere exposes every service
       on the attached instances, including ones nobody meant to publish.""",
       remediation="""Edit the group's inbound rules in the EC2 console or run
       `aws ec2 revoke-security-group-ingress` to delete the all-traffic (protocol -1) or 0-65535 rule
       with source 0.0.0.0/0 or ::/0, and add rules for only the ports the workload serves.""")
def sg_all_traffic_open(inv: AwsInventory) -> Iterator[Verdict]:
    groups, errors = _security_groups(inv)
    yield from errors
    for group in groups:
        wide = [f"{rule.describe()} from {rule.cidr}" for rule in open_rules(group) if rule.all_ports]
        arn = group_arn(inv, group)
        if wide:
            yield failed(arn, f"{group_label(group)} allows {', '.join(wide)}", group.record,
                         region=group.region)
        else:
            yield passed(arn, f"{group_label(group)} admits no all-traffic rule from the internet",
                         group.record, region=group.region)


@check("aws.ec2.default_sg_restricted", severity=Severity.MEDIUM, resource_type="AwsEc2SecurityGroup",
       title="Every VPC's default security group has no rules",
       rationale="""Resources launched without an explicit group land in the VPC's default group, so any
       rule in it silently grants them network access. An empty default group denies by default.""",
       remediation="""In the EC2 console open the VPC's security group named "default" and delete all of
       its inbound and outbound rules (`aws ec2 revoke-security-group-ingress` and
       `revoke-security-group-egress`); give workloads purpose-built groups instead.""")
def default_sg_restricted(inv: AwsInventory) -> Iterator[Verdict]:
    groups, errors = _security_groups(inv)
    yield from errors
    for group in groups:
        if group.get("GroupName") != "default":
            continue
        inbound = len(group.get("IpPermissions") or [])
        outbound = len(group.get("IpPermissionsEgress") or [])
        label = f"default security group {group['GroupId']} of {group.get('VpcId', 'EC2-Classic')}"
        if inbound or outbound:
            yield failed(group_arn(inv, group), f"{label} has {inbound} inbound and {outbound} outbound "
                         "rules", group.record, region=group.region)
        else:
            yield passed(group_arn(inv, group), f"{label} has no rules", group.record, region=group.region)


@check("aws.ec2.ebs_default_encryption", severity=Severity.MEDIUM,
       resource_type="AwsEc2EbsEncryptionByDefault",
       title="New EBS volumes are encrypted by default in every region",
       rationale="""With encryption by default on, every new volume and snapshot copy is encrypted even
       when whoever creates it forgets to ask, so stored data never lands on disk in the clear.""",
       remediation="""In the EC2 console choose Settings > Data protection and security > EBS encryption >
       Manage and tick Always encrypt new EBS volumes, or run `aws ec2 enable-ebs-encryption-by-default`
       in each region.""")
def ebs_default_encryption(inv: AwsInventory) -> Iterator[Verdict]:
    for region in inv.regions:
        rec = inv.call("ec2", "get_ebs_encryption_by_default", region)
        arn = inv.arn("ec2", region, "ebs-encryption-by-default")
        why = unusable(rec, "get_ebs_encryption_by_default")
        if rec is None or why:
            yield errored(arn, f"EBS encryption by default in {region} is unknown: {why}", rec, region=region)
            continue
        setting = (rec.response or {}).get("EbsEncryptionByDefault")
        if setting is True:
            yield passed(arn, f"EBS encryption by default is on in {region}", rec, region=region)
        elif setting is False:
            yield failed(arn, f"EBS encryption by default is off in {region}", rec, region=region)
        else:
            yield errored(arn, f"get_ebs_encryption_by_default in {region} does not state the setting", rec,
                          region=region)
