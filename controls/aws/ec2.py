"""EC2 and VPC checks: security groups and network ACLs open to the internet, the default group, flow
logs, EBS encryption and public snapshots, instance metadata (IMDSv2) and public addresses."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import (
    Judgement,
    Listing,
    answer,
    bad,
    each,
    good,
    listing_errors,
    unknown,
    unusable,
)
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


WEB_PORTS = (80, 443)


def _world_port_check(inv: AwsInventory, port: int, name: str) -> Iterator[Verdict]:
    groups, errors = _security_groups(inv)
    yield from errors
    for group in groups:
        hits = [f"{rule.cidr} on {rule.describe()}" for rule in open_rules(group) if rule.covers(port)]
        arn = group_arn(inv, group)
        if hits:
            yield failed(arn, f"{group_label(group)} allows {name} (port {port}) from {'; '.join(hits)}",
                         group.record, region=group.region)
        else:
            yield passed(arn, f"{group_label(group)} does not open {name} (port {port}) to the internet",
                         group.record, region=group.region)


@check("aws.ec2.sg_ssh_open", severity=Severity.HIGH, resource_type="AwsEc2SecurityGroup",
       title="No security group allows SSH (port 22) from the internet, over IPv4 or IPv6",
       rationale="""SSH reachable from anywhere is scanned and brute-forced within minutes of exposure.
       Remote shells belong behind a bastion, a VPN or Session Manager.""",
       remediation="""Remove the 0.0.0.0/0 and ::/0 sources from port 22 (EC2 console > Security Groups >
       Edit inbound rules, or `aws ec2 revoke-security-group-ingress`) and use Systems Manager Session
       Manager or a known administration network instead.""")
def sg_ssh_open(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _world_port_check(inv, 22, "SSH")


@check("aws.ec2.sg_rdp_open", severity=Severity.HIGH, resource_type="AwsEc2SecurityGroup",
       title="No security group allows RDP (port 3389) from the internet, over IPv4 or IPv6",
       rationale="""Remote Desktop exposed to the internet is a favourite entry point for ransomware
       crews. It must only be reachable from known administration networks.""",
       remediation="""Remove the 0.0.0.0/0 and ::/0 sources from port 3389 (EC2 console > Security Groups >
       Edit inbound rules, or `aws ec2 revoke-security-group-ingress`) and use Fleet Manager or a VPN.""")
def sg_rdp_open(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _world_port_check(inv, 3389, "RDP")


@check("aws.ec2.sg_only_web_ports_public", severity=Severity.MEDIUM, resource_type="AwsEc2SecurityGroup",
       title="Security groups open only the web ports (80, 443) to the internet",
       rationale="""Every port reachable from the internet must be justified. Outside the public web ports
       served by load balancers, an internet-facing rule is almost always an accident or a shortcut.""",
       remediation="""Remove the internet sources from every rule other than tcp 80 and 443 (EC2 console >
       Security Groups > Edit inbound rules), or record the business justification for the port.""")
def sg_only_web_ports_public(inv: AwsInventory) -> Iterator[Verdict]:
    groups, errors = _security_groups(inv)
    yield from errors
    for group in groups:
        extra = [f"{rule.describe()} from {rule.cidr}" for rule in open_rules(group)
                 if not (rule.protocol == "tcp" and rule.low == rule.high and rule.low in WEB_PORTS)]
        arn = group_arn(inv, group)
        if extra:
            yield failed(arn, f"{group_label(group)} opens more than the web ports to the internet: "
                         f"{', '.join(extra)}", group.record, region=group.region)
        else:
            yield passed(arn, f"{group_label(group)} opens at most tcp 80 and 443 to the internet",
                         group.record, region=group.region)


VPCS = Listing("ec2", "describe_vpcs", "Vpcs", "vpc/*",
               arn=lambda inv, v: inv.arn("ec2", v.region, f"vpc/{v['VpcId']}"),
               label=lambda v: f"VPC {v['VpcId']}{' (default)' if v.get('IsDefault') else ''}")


@check("aws.ec2.vpc_flow_logs", severity=Severity.MEDIUM, resource_type="AwsEc2Vpc",
       title="Every VPC records its network traffic in flow logs",
       rationale="""Flow logs record which addresses talked to which, on which ports, and whether the
       traffic was accepted. They are the network audit trail behind any investigation.""",
       remediation="""In the VPC console select the VPC, choose Flow logs > Create flow log (filter All) to
       CloudWatch Logs or S3, or run `aws ec2 create-flow-logs --resource-type VPC --resource-ids <vpc>
       --traffic-type ALL`.""")
def vpc_flow_logs(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(vpc: Item) -> Judgement:
        logs = inv.call("ec2", "describe_flow_logs", vpc.region)
        why = unusable(logs, "describe_flow_logs")
        if logs is None or why:
            return unknown(f"flow logs unknown: {why}", logs)
        mine = [f for f in (logs.response or {}).get("FlowLogs") or [] if f.get("ResourceId") == vpc["VpcId"]
                and f.get("FlowLogStatus", "ACTIVE") == "ACTIVE"]
        if mine:
            flow = mine[0]
            return good(f"records {flow.get('TrafficType', '?')} traffic in flow log {flow.get('FlowLogId')}",
                        logs)
        return bad("has no active flow log", logs)
    yield from each(inv, VPCS, judge)


def own_snapshots(inv: AwsInventory) -> tuple[list[Item], list[Verdict]]:
    items, errors = SNAPSHOTS.items(inv)
    return [s for s in items if s.get("OwnerId") in (None, inv.account_id)], errors


SNAPSHOTS = Listing("ec2", "describe_snapshots", "Snapshots", "snapshot/*", params={"OwnerIds": ["self"]},
                    arn=lambda inv, s: inv.arn("ec2", s.region, f"snapshot/{s['SnapshotId']}"),
                    label=lambda s: f"EBS snapshot {s['SnapshotId']}")


@check("aws.ec2.snapshot_not_public", severity=Severity.CRITICAL, resource_type="AwsEc2Snapshot",
       title="No EBS snapshot can be restored by anyone",
       rationale="""A public snapshot lets any AWS account create a volume from it and read every file the
       disk held, card data and keys included.""",
       remediation="""Remove the public permission with `aws ec2 modify-snapshot-attribute --snapshot-id <id>
       --attribute createVolumePermission --operation-type remove --group-names all`, and turn on Block
       public access for snapshots in EC2 settings.""")
def snapshot_not_public(inv: AwsInventory) -> Iterator[Verdict]:
    items, errors = own_snapshots(inv)
    yield from errors
    for snap in items:
        arn, label = SNAPSHOTS.arn(inv, snap), SNAPSHOTS.label(snap)
        rec, why = answer(inv, snap, "ec2", "describe_snapshot_attribute", SnapshotId=snap["SnapshotId"],
                          Attribute="createVolumePermission")
        if rec is None or why:
            yield errored(arn, f"{label}: permissions unknown: {why}", snap.record, rec, region=snap.region)
        elif any(p.get("Group") == "all" for p in (rec.response or {}).get("CreateVolumePermissions") or []):
            yield failed(arn, f"{label} can be restored by any AWS account", snap.record, rec,
                         region=snap.region)
        else:
            yield passed(arn, f"{label} is not public", snap.record, rec, region=snap.region)


@check("aws.ec2.snapshot_encrypted", severity=Severity.MEDIUM, resource_type="AwsEc2Snapshot",
       title="EBS snapshots are encrypted",
       rationale="""A snapshot is a full copy of a disk. Unencrypted, it exposes everything on it to anyone
       who can copy or share it.""",
       remediation="""Copy the snapshot with encryption (`aws ec2 copy-snapshot --encrypted --kms-key-id
       ...`), delete the plain copy, and turn on EBS encryption by default.""")
def snapshot_encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    items, errors = own_snapshots(inv)
    yield from errors
    for snap in items:
        arn, label = SNAPSHOTS.arn(inv, snap), SNAPSHOTS.label(snap)
        if snap.get("Encrypted") is True:
            yield passed(arn, f"{label} is encrypted", snap.record, region=snap.region)
        else:
            yield failed(arn, f"{label} is not encrypted", snap.record, region=snap.region)


VOLUMES = Listing("ec2", "describe_volumes", "Volumes", "volume/*",
                  arn=lambda inv, v: inv.arn("ec2", v.region, f"volume/{v['VolumeId']}"),
                  label=lambda v: f"EBS volume {v['VolumeId']}")


@check("aws.ec2.volume_encrypted", severity=Severity.MEDIUM, resource_type="AwsEc2Volume",
       title="EBS volumes are encrypted",
       rationale="""Encryption at rest keeps a volume's data unreadable to anyone who obtains the
       underlying storage or a snapshot of it.""",
       remediation="""Snapshot the volume, copy the snapshot with `--encrypted`, create a new volume from it
       and swap it in; turn on EBS encryption by default so new volumes are encrypted.""")
def volume_encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    yield from each(inv, VOLUMES, lambda v: good("is encrypted") if v.get("Encrypted") is True
                    else bad("is not encrypted"))


def instances(inv: AwsInventory) -> tuple[list[Item], list[Verdict]]:
    """Every instance of every reservation (terminated ones left out), with the listing's record."""
    reservations, failures = inv.listing("ec2", "describe_instances", "Reservations")
    found = [Item(i, r.region, r.record) for r in reservations for i in r.get("Instances") or []
             if (i.get("State") or {}).get("Name") != "terminated"]
    return found, list(listing_errors(inv, failures, "ec2", "instance/*"))


def instance_arn(inv: AwsInventory, item: Item) -> str:
    return inv.arn("ec2", item.region, f"instance/{item['InstanceId']}")


def _each_instance(inv: AwsInventory, judge: Callable[[Item], Judgement]) -> Iterator[Verdict]:
    items, errors = instances(inv)
    yield from errors
    for item in items:
        state, reason, evidence = judge(item)
        make = passed if state is True else failed if state is False else errored
        yield make(instance_arn(inv, item), f"instance {item['InstanceId']} {reason}", item.record, *evidence,
                   region=item.region)


@check("aws.ec2.imdsv2_required", severity=Severity.HIGH, resource_type="AwsEc2Instance",
       title="EC2 instances require IMDSv2 session tokens",
       rationale="""With IMDSv1 a single server-side request forgery bug lets an attacker read the
       instance's role credentials. Requiring session tokens (IMDSv2) closes that path.""",
       remediation="""Run `aws ec2 modify-instance-metadata-options --instance-id <id> --http-tokens required`
       (test the software first) and set HttpTokens required in launch templates.""")
def imdsv2_required(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(item: Item) -> Judgement:
        options = item.get("MetadataOptions") or {}
        if options.get("HttpEndpoint") == "disabled":
            return good("has the metadata service turned off")
        tokens = options.get("HttpTokens")
        if tokens is None:
            return unknown("does not state its metadata options")
        if tokens == "required":
            return good("requires IMDSv2 tokens")
        return bad(f"allows IMDSv1 (HttpTokens {tokens})")
    yield from _each_instance(inv, judge)


@check("aws.ec2.instance_no_public_ip", severity=Severity.MEDIUM, resource_type="AwsEc2Instance",
       title="EC2 instances have no public IP address",
       rationale="""Systems in the cardholder data environment should be reached through load balancers and
       controlled entry points, never directly from the internet.""",
       remediation="""Move the instance to a private subnet behind a load balancer or NAT gateway, release
       its Elastic IP, and turn off auto-assign public IP on the subnet and launch template.""")
def instance_no_public_ip(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(item: Item) -> Judgement:
        address = item.get("PublicIpAddress")
        return bad(f"has the public address {address}") if address else good("has no public address")
    yield from _each_instance(inv, judge)


SUBNETS = Listing("ec2", "describe_subnets", "Subnets", "subnet/*",
                  arn=lambda inv, s: s.get("SubnetArn")
                  or inv.arn("ec2", s.region, f"subnet/{s['SubnetId']}"),
                  label=lambda s: f"subnet {s['SubnetId']} of {s.get('VpcId', '?')}")


@check("aws.ec2.subnet_no_auto_public_ip", severity=Severity.MEDIUM, resource_type="AwsEc2Subnet",
       title="Subnets do not give new instances public IP addresses automatically",
       rationale="""A subnet that hands out public addresses puts every instance launched into it on the
       internet by default, whatever its purpose.""",
       remediation="""In the VPC console select the subnet, choose Actions > Edit subnet settings and clear
       Enable auto-assign public IPv4 address, or run `aws ec2 modify-subnet-attribute
       --no-map-public-ip-on-launch`.""")
def subnet_no_auto_public_ip(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(subnet: Item) -> Judgement:
        value = subnet.get("MapPublicIpOnLaunch")
        if not isinstance(value, bool):
            return unknown("does not state MapPublicIpOnLaunch")
        return bad("assigns public addresses on launch") if value else good("assigns no public addresses")
    yield from each(inv, SUBNETS, judge)


NACLS = Listing("ec2", "describe_network_acls", "NetworkAcls", "network-acl/*",
                arn=lambda inv, n: inv.arn("ec2", n.region, f"network-acl/{n['NetworkAclId']}"),
                label=lambda n: f"network ACL {n['NetworkAclId']}"
                + (" (default)" if n.get("IsDefault") else ""))


def nacl_admin_exposure(entries: list[dict[str, Any]]) -> list[str]:
    """Inbound allow entries from anywhere that reach SSH or RDP."""
    found = []
    for entry in entries:
        if entry.get("Egress") or entry.get("RuleAction") != "allow":
            continue
        cidr = entry.get("CidrBlock") or entry.get("Ipv6CidrBlock")
        protocol = str(entry.get("Protocol"))
        if cidr not in WORLD or protocol not in ("-1", "6"):
            continue
        ports = entry.get("PortRange") or {}
        low, high = (0, 65535) if protocol == "-1" or not ports else (
            int(ports.get("From", 0)), int(ports.get("To", 65535)))
        hit = [str(p) for p in (22, 3389) if low <= p <= high]
        if hit:
            found.append(f"rule {entry.get('RuleNumber')} allows {cidr} to port {'/'.join(hit)}")
    return found


@check("aws.ec2.nacl_admin_ports_open", severity=Severity.MEDIUM, resource_type="AwsEc2NetworkAcl",
       title="No network ACL lets the internet reach SSH or RDP",
       rationale="""Network ACLs are the subnet-level layer of defence; one that admits SSH or RDP from
       anywhere leaves a single security group rule between the internet and a remote shell.""",
       remediation="""Edit the network ACL's inbound rules (VPC console > Network ACLs > Inbound rules) to
       deny or drop 0.0.0.0/0 and ::/0 on ports 22 and 3389, allowing only administration networks.""")
def nacl_admin_ports_open(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(nacl: Item) -> Judgement:
        exposed = nacl_admin_exposure(nacl.get("Entries") or [])
        if exposed:
            return bad("; ".join(exposed))
        return good("admits neither SSH nor RDP from the internet")
    yield from each(inv, NACLS, judge)
