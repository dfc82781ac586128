"""RDS checks: instances private, encrypted, backed up, patched, logged and protected from deletion;
snapshots private and encrypted; clusters encrypted."""

from __future__ import annotations

from collections.abc import Callable, Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, answer, bad, each, good, listing_errors, unknown
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


DEFAULT_ADMIN_NAMES = ("admin", "administrator", "postgres", "root", "sa", "master", "mysql")
MIN_BACKUP_DAYS = 7


def _each_instance(inv: AwsInventory, judge: Callable[[Item], Judgement]) -> Iterator[Verdict]:
    yield from each(inv, INSTANCES, judge)


INSTANCES = Listing("rds", "describe_db_instances", "DBInstances", "db:*",
                    arn=lambda inv, d: d.get("DBInstanceArn") or inv.arn("rds", d.region,
                                                                         f"db:{d['DBInstanceIdentifier']}"),
                    label=lambda d: f"DB instance {d['DBInstanceIdentifier']}")


def _flag(field: str, yes: str, no: str) -> Callable[[Item], Judgement]:
    def judge(db: Item) -> Judgement:
        value = db.get(field)
        if not isinstance(value, bool):
            return unknown(f"describe_db_instances does not state {field}")
        return good(yes) if value else bad(no)
    return judge


@check("aws.rds.backups_enabled", severity=Severity.MEDIUM, resource_type="AwsRdsDbInstance",
       title="RDS instances keep automated backups for at least seven days",
       rationale="""Automated backups with point-in-time recovery let a database be restored after a
       failure, a bad change or ransomware, which the incident response plan depends on.""",
       remediation="""Run `aws rds modify-db-instance --backup-retention-period 7 --apply-immediately` (or
       RDS console > Modify > Backup retention period).""")
def backups_enabled(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(db: Item) -> Judgement:
        days = db.get("BackupRetentionPeriod")
        if not isinstance(days, int):
            return unknown("does not state BackupRetentionPeriod")
        if days >= MIN_BACKUP_DAYS:
            return good(f"keeps automated backups for {days} days")
        return bad(f"keeps automated backups for {days} days (at least {MIN_BACKUP_DAYS} needed)")
    yield from _each_instance(inv, judge)


@check("aws.rds.deletion_protection", severity=Severity.LOW, resource_type="AwsRdsDbInstance",
       title="RDS instances have deletion protection",
       rationale="""Deletion protection makes removing a database a two-step, deliberate change instead of
       a single call that a mistake or a compromised role can make.""",
       remediation="""Run `aws rds modify-db-instance --deletion-protection --apply-immediately`.""")
def deletion_protection(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _each_instance(inv, _flag("DeletionProtection", "has deletion protection",
                                         "has no deletion protection"))


@check("aws.rds.minor_version_upgrade", severity=Severity.MEDIUM, resource_type="AwsRdsDbInstance",
       title="RDS instances take minor engine upgrades automatically",
       rationale="""Minor engine versions carry the security fixes for the database software. Automatic
       upgrades in the maintenance window install them without waiting for someone to remember.""",
       remediation="""Run `aws rds modify-db-instance --auto-minor-version-upgrade` (RDS console > Modify >
       Maintenance).""")
def minor_version_upgrade(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _each_instance(inv, _flag("AutoMinorVersionUpgrade", "upgrades minor versions automatically",
                                         "does not upgrade minor versions automatically"))


@check("aws.rds.logs_exported", severity=Severity.MEDIUM, resource_type="AwsRdsDbInstance",
       title="RDS instances export their database logs to CloudWatch Logs",
       rationale="""Database logs record connections, failed logins and errors. Exported to CloudWatch
       Logs they are kept centrally and can be searched and alarmed on.""",
       remediation="""Run `aws rds modify-db-instance --cloudwatch-logs-export-configuration
       EnableLogTypes=postgresql` (or the engine's log types) or tick the log types under Modify > Log
       exports.""")
def logs_exported(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(db: Item) -> Judgement:
        exports = db.get("EnabledCloudwatchLogsExports") or []
        return good(f"exports {', '.join(exports)} logs") if exports else bad("exports no logs")
    yield from _each_instance(inv, judge)


@check("aws.rds.iam_authentication", severity=Severity.MEDIUM, resource_type="AwsRdsDbInstance",
       title="RDS instances accept IAM database authentication",
       rationale="""With IAM authentication each person or service signs in to the database under its own
       identity with short-lived tokens, instead of sharing one long-lived password.""",
       remediation="""Run `aws rds modify-db-instance --enable-iam-database-authentication` and grant
       rds-db:connect to the roles that need the database.""")
def iam_authentication(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _each_instance(inv, _flag("IAMDatabaseAuthenticationEnabled", "accepts IAM authentication",
                                         "does not accept IAM authentication"))


@check("aws.rds.multi_az", severity=Severity.LOW, resource_type="AwsRdsDbInstance",
       title="RDS instances run in more than one availability zone",
       rationale="""A Multi-AZ standby takes over when a zone or host fails, so payment processing and its
       records stay available.""",
       remediation="""Run `aws rds modify-db-instance --multi-az --apply-immediately` (RDS console > Modify >
       Availability & durability).""")
def multi_az(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _each_instance(inv, _flag("MultiAZ", "runs in several availability zones",
                                         "runs in a single availability zone"))


@check("aws.rds.custom_admin_username", severity=Severity.MEDIUM, resource_type="AwsRdsDbInstance",
       title="RDS instances do not use a default administrator name",
       rationale="""Default administrator names such as admin or postgres are the first an attacker tries.
       A custom master user name removes half of the guesswork.""",
       remediation="""Create the instance (or a restored copy) with a non-default `--master-username`, or
       create a named administrator and stop using the default one.""")
def custom_admin_username(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(db: Item) -> Judgement:
        name = db.get("MasterUsername")
        if not name:
            return unknown("does not state its master user name")
        if str(name).lower() in DEFAULT_ADMIN_NAMES:
            return bad(f"uses the default administrator name {name}")
        return good(f"uses the custom administrator name {name}")
    yield from _each_instance(inv, judge)


SNAPSHOTS = Listing("rds", "describe_db_snapshots", "DBSnapshots", "snapshot:*",
                    arn=lambda inv, s: s.get("DBSnapshotArn") or inv.arn("rds", s.region,
                                                                         f"snapshot:{s['DBSnapshotIdentifier']}"),
                    label=lambda s: f"DB snapshot {s['DBSnapshotIdentifier']}")


@check("aws.rds.snapshot_not_public", severity=Severity.CRITICAL, resource_type="AwsRdsDbSnapshot",
       title="No manual RDS snapshot can be restored by anyone",
       rationale="""A public DB snapshot lets any AWS account restore a full copy of the database,
       cardholder data included.""",
       remediation="""Run `aws rds modify-db-snapshot-attribute --db-snapshot-identifier <id> --attribute-name
       restore --values-to-remove all`.""")
def snapshot_not_public(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(snap: Item) -> Judgement | None:
        if snap.get("SnapshotType") != "manual":
            return None
        rec, why = answer(inv, snap, "rds", "describe_db_snapshot_attributes",
                          DBSnapshotIdentifier=snap["DBSnapshotIdentifier"])
        if why:
            return unknown(f"sharing unknown: {why}", rec)
        attributes = ((rec.response or {}).get("DBSnapshotAttributesResult") or {}).get(  # type: ignore[union-attr]
            "DBSnapshotAttributes") or []
        if any(a.get("AttributeName") == "restore" and "all" in (a.get("AttributeValues") or [])
               for a in attributes):
            return bad("can be restored by any AWS account", rec)
        return good("is not public", rec)
    yield from each(inv, SNAPSHOTS, judge)


@check("aws.rds.snapshot_encrypted", severity=Severity.MEDIUM, resource_type="AwsRdsDbSnapshot",
       title="RDS snapshots are encrypted",
       rationale="""A snapshot is a full copy of the database. Unencrypted, it exposes the stored data to
       anyone who can copy or share it.""",
       remediation="""Copy the snapshot with `aws rds copy-db-snapshot --kms-key-id <key>` and delete the
       unencrypted one; encrypt the source instance so future snapshots are encrypted.""")
def snapshot_encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    yield from each(inv, SNAPSHOTS, lambda s: good("is encrypted") if s.get("Encrypted") is True
                    else bad("is not encrypted"))


CLUSTERS = Listing("rds", "describe_db_clusters", "DBClusters", "cluster:*",
                   arn=lambda inv, c: c.get("DBClusterArn") or inv.arn("rds", c.region,
                                                                       f"cluster:{c['DBClusterIdentifier']}"),
                   label=lambda c: f"DB cluster {c['DBClusterIdentifier']}")


@check("aws.rds.cluster_encrypted", severity=Severity.HIGH, resource_type="AwsRdsDbCluster",
       title="Aurora and Multi-AZ DB clusters encrypt their storage",
       rationale="""Encryption at rest keeps the cluster's data, backups and snapshots unreadable to anyone
       who obtains the underlying storage.""",
       remediation="""Snapshot the cluster, restore it with `--kms-key-id` as a new encrypted cluster and
       cut over; create new clusters with `--storage-encrypted`.""")
def cluster_encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    yield from each(inv, CLUSTERS, lambda c: good("encrypts its storage") if c.get("StorageEncrypted") is True
                    else bad("does not encrypt its storage"))
