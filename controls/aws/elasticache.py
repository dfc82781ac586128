"""ElastiCache checks: Redis and Valkey replication groups encrypt data at rest and in transit."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, bad, each, good, unknown
from controls.registry import Verdict, check

GROUPS = Listing("elasticache", "describe_replication_groups", "ReplicationGroups", "replicationgroup:*",
                 arn=lambda inv, g: g.get("ARN") or inv.arn("elasticache", g.region,
                                                            f"replicationgroup:{g['ReplicationGroupId']}"),
                 label=lambda g: f"replication group {g['ReplicationGroupId']}")


def _flag(field: str, yes: str, no: str) -> Callable[[Item], Judgement]:
    def judge(group: Item) -> Judgement:
        value = group.get(field)
        if not isinstance(value, bool):
            return unknown(f"describe_replication_groups does not state {field}")
        return good(yes) if value else bad(no)
    return judge


@check("aws.elasticache.encrypted_at_rest", severity=Severity.MEDIUM,
       resource_type="AwsElastiCacheReplicationGroup",
       title="ElastiCache replication groups encrypt data at rest",
       rationale="""Caches in front of payment services often hold session data and copies of records.
       Encryption at rest keeps their disks, backups and snapshots unreadable.""",
       remediation="""At-rest encryption is chosen at creation: create a new replication group with
       `--at-rest-encryption-enabled` (and a KMS key), migrate to it and delete the old one.""")
def encrypted_at_rest(inv: AwsInventory) -> Iterator[Verdict]:
    yield from each(inv, GROUPS, _flag("AtRestEncryptionEnabled", "encrypts data at rest",
                                       "does not encrypt data at rest"))


@check("aws.elasticache.encrypted_in_transit", severity=Severity.MEDIUM,
       resource_type="AwsElastiCacheReplicationGroup",
       title="ElastiCache replication groups encrypt traffic in transit",
       rationale="""Without TLS, anyone on the network path can read or alter what applications store in
       and fetch from the cache.""",
       remediation="""Turn on in-transit encryption with `aws elasticache modify-replication-group
       --transit-encryption-enabled --transit-encryption-mode preferred`, move clients to TLS, then set the
       mode to required.""")
def encrypted_in_transit(inv: AwsInventory) -> Iterator[Verdict]:
    yield from each(inv, GROUPS, _flag("TransitEncryptionEnabled", "encrypts traffic in transit",
                                       "does not encrypt traffic in transit"))
