"""RDS backups, deletion protection, upgrades, logs, IAM auth, Multi-AZ, admin names, snapshots and
clusters; load balancer attributes; WAF blocking and SQL injection rules."""

from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, inventory, ok, only, run


def statuses(check_id, inv):
    return {f.resource_id.rsplit(":", 1)[-1].rsplit("/", 1)[-1]: f.status for f in run(check_id, inv)}


GOOD_DB = {
    "DBInstanceIdentifier": "good",
    "BackupRetentionPeriod": 14,
    "DeletionProtection": True,
    "AutoMinorVersionUpgrade": True,
    "EnabledCloudwatchLogsExports": ["postgresql"],
    "IAMDatabaseAuthenticationEnabled": True,
    "MultiAZ": True,
    "MasterUsername": "ledger_owner",
}
BAD_DB = {
    "DBInstanceIdentifier": "bad",
    "BackupRetentionPeriod": 1,
    "DeletionProtection": False,
    "AutoMinorVersionUpgrade": False,
    "EnabledCloudwatchLogsExports": [],
    "IAMDatabaseAuthenticationEnabled": False,
    "MultiAZ": False,
    "MasterUsername": "postgres",
}
ODD_DB = {"DBInstanceIdentifier": "odd"}
RDS_CHECKS = [
    "aws.rds.backups_enabled",
    "aws.rds.deletion_protection",
    "aws.rds.minor_version_upgrade",
    "aws.rds.iam_authentication",
    "aws.rds.multi_az",
    "aws.rds.custom_admin_username",
]


@pytest.mark.parametrize("check_id", [*RDS_CHECKS, "aws.rds.logs_exported"])
def test_rds_instance_settings(check_id):
    inv = inventory(ok("rds", "describe_db_instances", {"DBInstances": [GOOD_DB, BAD_DB, ODD_DB]}))
    found = statuses(check_id, inv)
    assert found["good"] is Status.PASS and found["bad"] is Status.FAIL
    # an instance whose answer leaves the field out is unknown, never a pass (no exports = none configured)
    assert found["odd"] is (Status.FAIL if check_id == "aws.rds.logs_exported" else Status.ERROR)


def test_rds_snapshots_and_clusters():
    snaps = ok(
        "rds",
        "describe_db_snapshots",
        {
            "DBSnapshots": [
                {"DBSnapshotIdentifier": "auto", "SnapshotType": "automated", "Encrypted": True},
                {"DBSnapshotIdentifier": "shared", "SnapshotType": "manual", "Encrypted": False},
                {"DBSnapshotIdentifier": "kept", "SnapshotType": "manual", "Encrypted": True},
                {"DBSnapshotIdentifier": "lost", "SnapshotType": "manual", "Encrypted": True},
            ]
        },
    )

    def attrs(name, values):
        return ok(
            "rds",
            "describe_db_snapshot_attributes",
            {
                "DBSnapshotAttributesResult": {
                    "DBSnapshotAttributes": [{"AttributeName": "restore", "AttributeValues": values}]
                }
            },
            DBSnapshotIdentifier=name,
        )

    inv = inventory(snaps, attrs("shared", ["all"]), attrs("kept", ["111111111111"]))
    assert statuses("aws.rds.snapshot_not_public", inv) == {
        "shared": Status.FAIL,
        "kept": Status.PASS,
        "lost": Status.ERROR,
    }
    assert statuses("aws.rds.snapshot_encrypted", inv)["shared"] is Status.FAIL
    clusters = inventory(
        ok(
            "rds",
            "describe_db_clusters",
            {
                "DBClusters": [
                    {"DBClusterIdentifier": "c1", "StorageEncrypted": True},
                    {"DBClusterIdentifier": "c2"},
                ]
            },
        )
    )
    assert statuses("aws.rds.cluster_encrypted", clusters) == {"c1": Status.PASS, "c2": Status.FAIL}


LB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/shop/1"
NLB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/net/tcp/2"


def lbs(*attrs):
    records = [
        ok(
            "elbv2",
            "describe_load_balancers",
            {
                "LoadBalancers": [
                    {"LoadBalancerArn": LB, "LoadBalancerName": "shop", "Type": "application"},
                    {"LoadBalancerArn": NLB, "LoadBalancerName": "tcp", "Type": "network"},
                ]
            },
        )
    ]
    for arn, values in attrs:
        records.append(
            ok(
                "elbv2",
                "describe_load_balancer_attributes",
                {"Attributes": [{"Key": k, "Value": v} for k, v in values.items()]},
                LoadBalancerArn=arn,
            )
        )
    return inventory(*records)


GOOD_ATTRS = {
    "access_logs.s3.enabled": "true",
    "deletion_protection.enabled": "true",
    "routing.http.desync_mitigation_mode": "strictest",
    "routing.http.drop_invalid_header_fields.enabled": "true",
}
BAD_ATTRS = {
    "access_logs.s3.enabled": "false",
    "deletion_protection.enabled": "false",
    "routing.http.desync_mitigation_mode": "monitor",
    "routing.http.drop_invalid_header_fields.enabled": "false",
}


@pytest.mark.parametrize(
    "check_id",
    [
        "aws.elbv2.access_logs",
        "aws.elbv2.deletion_protection",
        "aws.elbv2.desync_mitigation",
        "aws.elbv2.drop_invalid_headers",
    ],
)
def test_load_balancer_attributes(check_id):
    albs_only = check_id in ("aws.elbv2.desync_mitigation", "aws.elbv2.drop_invalid_headers")
    good = {f.resource_id: f.status for f in run(check_id, lbs((LB, GOOD_ATTRS), (NLB, GOOD_ATTRS)))}
    assert good == ({LB: Status.PASS} if albs_only else {LB: Status.PASS, NLB: Status.PASS})
    bad = {f.resource_id: f.status for f in run(check_id, lbs((LB, BAD_ATTRS), (NLB, BAD_ATTRS)))}
    assert bad[LB] is Status.FAIL
    unstated = {f.resource_id: f for f in run(check_id, lbs((LB, {}), (NLB, {})))}
    assert unstated[LB].status is Status.ERROR and "does not state" in unstated[LB].reason
    assert {f.status for f in run(check_id, lbs())} == {Status.ERROR}


ACL_ARN = f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/edge/1"


def acl_inventory(acl: dict | None):
    records = [
        ok(
            "wafv2",
            "list_web_acls",
            {"WebACLs": [{"Name": "edge", "Id": "1", "ARN": ACL_ARN}]},
            Scope="REGIONAL",
        )
    ]
    if acl is not None:
        records.append(ok("wafv2", "get_web_acl", {"WebACL": acl}, Name="edge", Id="1", Scope="REGIONAL"))
    return inventory(*records)


def managed(name: str, count: bool = False) -> dict:
    return {
        "Name": name,
        "OverrideAction": {"Count": {}} if count else {"None": {}},
        "Statement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": name}},
    }


@pytest.mark.parametrize(
    ("acl", "blocks", "sqli"),
    [
        (
            {"DefaultAction": {"Allow": {}}, "Rules": [managed("AWSManagedRulesSQLiRuleSet")]},
            Status.PASS,
            Status.PASS,
        ),
        (
            {"DefaultAction": {"Allow": {}}, "Rules": [managed("AWSManagedRulesSQLiRuleSet", count=True)]},
            Status.FAIL,
            Status.FAIL,
        ),
        (
            {
                "DefaultAction": {"Block": {}},
                "Rules": [{"Name": "own", "Action": {"Block": {}}, "Statement": {"SqliMatchStatement": {}}}],
            },
            Status.PASS,
            Status.PASS,
        ),
        ({"DefaultAction": {"Allow": {}}, "Rules": []}, Status.FAIL, Status.FAIL),
        ({"DefaultAction": {"Block": {}}, "Rules": []}, Status.PASS, Status.FAIL),
    ],
)
def test_web_acl_blocks_and_sqli(acl, blocks, sqli):
    assert only("aws.wafv2.rules_block", acl_inventory(acl)).status is blocks
    assert only("aws.wafv2.sqli_protection", acl_inventory(acl)).status is sqli


@pytest.mark.parametrize("check_id", ["aws.wafv2.rules_block", "aws.wafv2.sqli_protection"])
def test_web_acl_rules_unknown_is_an_error(check_id):
    assert only(check_id, acl_inventory(None)).status is Status.ERROR
