"""RDS checks: database instances are private and encrypted at rest."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import listing_errors
from controls.registry import Verdict, check, errored, failed, passed


def _instances(inv: AwsInventory) -> tuple[list[Item], Iterator[Verdict]]:
    items, failures = inv.listing("rds", "describe_db_instances", "DBInstances")
    return items, listing_errors(inv, failures, "rds", "db:*")


def _judge(inv: AwsInventory, field: str, good: bool, says: dict[bool, str]) -> Iterator[Verdict]:
    """PASS when the instance's boolean `field` equals `good`, FAIL when it is the opposite, else ERROR."""
    items, errors = _instances(inv)
    yield from errors
    for db in items:
        arn = db.get("DBInstanceArn") or inv.arn("rds", db.region, f"db:{db['DBInstanceIdentifier']}")
        name = f"DB instance {db['DBInstanceIdentifier']}"
        value = db.get(field)
        if not isinstance(value, bool):
            yield errored(arn, f"{name}: describe_db_instances does not state {field}", db.record,
                          region=db.region)
        elif value is good:
            yield passed(arn, f"{name} {says[value]}", db.record, region=db.region)
        else:
            yield failed(arn, f"{name} {says[value]}", db.record, region=db.region)


@check("aws.rds.not_public", severity=Severity.HIGH, resource_type="AwsRdsDbInstance",
       title="RDS database instances are not publicly accessible",
       rationale="""A publicly accessible instance gets an address that resolves from the internet, so a
       single permissive security group rule exposes the database to the world.""",
       remediation="""In the RDS console choose Modify > Connectivity > Public access > Not publicly
       accessible, or run `aws rds modify-db-instance --no-publicly-accessible --apply-immediately`.""")
def not_public(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _judge(inv, "PubliclyAccessible", False,
                      {True: "is publicly accessible", False: "is not publicly accessible"})


@check("aws.rds.storage_encrypted", severity=Severity.HIGH, resource_type="AwsRdsDbInstance",
       title="RDS database instances encrypt their storage",
       rationale="""Encryption at rest keeps data, automated backups, snapshots and replicas unreadable
       to anyone who obtains the underlying storage.""",
       remediation="""Encryption cannot be switched on in place: snapshot the instance, copy the snapshot
       with `aws rds copy-db-snapshot --kms-key-id ...`, restore it as a new encrypted instance and cut
       over; create new instances with `--storage-encrypted`.""")
def storage_encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _judge(inv, "StorageEncrypted", True,
                      {True: "encrypts its storage", False: "does not encrypt its storage"})
