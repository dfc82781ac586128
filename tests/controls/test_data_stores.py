"""Secrets Manager, ACM, DynamoDB, ElastiCache, SNS, SQS, EFS and CloudWatch Logs retention."""

from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, inventory, ok, run


def statuses(check_id, inv):
    return {f.resource_id.rsplit(":", 1)[-1].rsplit("/", 1)[-1]: f.status for f in run(check_id, inv)}


def secrets(*items):
    return inventory(
        ok(
            "secretsmanager",
            "list_secrets",
            {
                "SecretList": [
                    {"ARN": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:{i['Name']}", **i}
                    for i in items
                ]
            },
        )
    )


def test_secrets():
    inv = secrets(
        {
            "Name": "fresh",
            "RotationEnabled": True,
            "LastRotatedDate": "2024-12-01T00:00:00Z",
            "LastAccessedDate": "2024-12-30T00:00:00Z",
            "CreatedDate": "2023-01-01T00:00:00Z",
        },
        {"Name": "stale", "RotationEnabled": False, "CreatedDate": "2023-01-01T00:00:00Z"},
        {"Name": "odd"},
    )
    assert statuses("aws.secretsmanager.rotation_enabled", inv) == {
        "fresh": Status.PASS,
        "stale": Status.FAIL,
        "odd": Status.FAIL,
    }
    for check_id in ("aws.secretsmanager.rotated_recently", "aws.secretsmanager.in_use"):
        assert statuses(check_id, inv) == {"fresh": Status.PASS, "stale": Status.FAIL, "odd": Status.ERROR}


def certificates(*details):
    records = [
        ok(
            "acm",
            "list_certificates",
            {
                "CertificateSummaryList": [
                    {
                        "CertificateArn": f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/{d['id']}",
                        "DomainName": d["id"],
                    }
                    for d in details
                ]
            },
        )
    ]
    for d in details:
        if "body" in d:
            records.append(
                ok(
                    "acm",
                    "describe_certificate",
                    {"Certificate": d["body"]},
                    CertificateArn=f"arn:aws:acm:{REGION}:{ACCOUNT}:certificate/{d['id']}",
                )
            )
    return inventory(*records)


def test_acm_certificates():
    inv = certificates(
        {
            "id": "ok",
            "body": {"Status": "ISSUED", "NotAfter": "2025-06-01T00:00:00Z", "KeyAlgorithm": "RSA_2048"},
        },
        {
            "id": "soon",
            "body": {"Status": "ISSUED", "NotAfter": "2025-01-10T00:00:00Z", "KeyAlgorithm": "RSA_1024"},
        },
        {"id": "pending", "body": {"Status": "PENDING_VALIDATION", "KeyAlgorithm": "EC_prime256v1"}},
        {"id": "lost"},
    )
    assert statuses("aws.acm.certificate_not_expiring", inv) == {
        "ok": Status.PASS,
        "soon": Status.FAIL,
        "lost": Status.ERROR,
    }
    assert statuses("aws.acm.key_length", inv) == {
        "ok": Status.PASS,
        "soon": Status.FAIL,
        "pending": Status.PASS,
        "lost": Status.ERROR,
    }


def test_dynamodb_tables():
    def table(name, sse):
        return ok("dynamodb", "describe_table", {"Table": {"TableName": name, **sse}}, TableName=name)

    inv = inventory(
        ok("dynamodb", "list_tables", {"TableNames": ["kms", "owned", "lost"]}),
        table("kms", {"SSEDescription": {"Status": "ENABLED", "SSEType": "KMS"}}),
        table("owned", {}),
    )
    assert statuses("aws.dynamodb.kms_encrypted", inv) == {
        "kms": Status.PASS,
        "owned": Status.FAIL,
        "lost": Status.ERROR,
    }


@pytest.mark.parametrize(
    ("check_id", "field"),
    [
        ("aws.elasticache.encrypted_at_rest", "AtRestEncryptionEnabled"),
        ("aws.elasticache.encrypted_in_transit", "TransitEncryptionEnabled"),
    ],
)
def test_elasticache(check_id, field):
    inv = inventory(
        ok(
            "elasticache",
            "describe_replication_groups",
            {
                "ReplicationGroups": [
                    {"ReplicationGroupId": "on", field: True},
                    {"ReplicationGroupId": "off", field: False},
                    {"ReplicationGroupId": "odd"},
                ]
            },
        )
    )
    assert statuses(check_id, inv) == {"on": Status.PASS, "off": Status.FAIL, "odd": Status.ERROR}


def test_sns_topics():
    arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:"
    inv = inventory(
        ok("sns", "list_topics", {"Topics": [{"TopicArn": arn + n} for n in ("enc", "plain", "lost")]}),
        ok(
            "sns",
            "get_topic_attributes",
            {"Attributes": {"KmsMasterKeyId": "alias/aws/sns"}},
            TopicArn=arn + "enc",
        ),
        ok("sns", "get_topic_attributes", {"Attributes": {}}, TopicArn=arn + "plain"),
    )
    assert statuses("aws.sns.kms_encrypted", inv) == {
        "enc": Status.PASS,
        "plain": Status.FAIL,
        "lost": Status.ERROR,
    }


def test_sqs_queues():
    url = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/"

    def attrs(name, values):
        return ok(
            "sqs", "get_queue_attributes", {"Attributes": values}, QueueUrl=url + name, AttributeNames=["All"]
        )

    inv = inventory(
        ok("sqs", "list_queues", {"QueueUrls": [url + n for n in ("sse", "kms", "plain", "lost")]}),
        attrs("sse", {"SqsManagedSseEnabled": "true"}),
        attrs("kms", {"KmsMasterKeyId": "k"}),
        attrs("plain", {"SqsManagedSseEnabled": "false"}),
    )
    assert statuses("aws.sqs.encrypted", inv) == {
        "sse": Status.PASS,
        "kms": Status.PASS,
        "plain": Status.FAIL,
        "lost": Status.ERROR,
    }


def test_efs_and_log_retention():
    efs = inventory(
        ok(
            "efs",
            "describe_file_systems",
            {
                "FileSystems": [
                    {"FileSystemId": "fs-1", "Encrypted": True},
                    {"FileSystemId": "fs-2", "Encrypted": False},
                ]
            },
        )
    )
    assert statuses("aws.efs.encrypted", efs) == {"fs-1": Status.PASS, "fs-2": Status.FAIL}
    logs = inventory(
        ok(
            "logs",
            "describe_log_groups",
            {
                "logGroups": [
                    {"logGroupName": "forever"},
                    {"logGroupName": "year", "retentionInDays": 400},
                    {"logGroupName": "week", "retentionInDays": 7},
                ]
            },
        )
    )
    assert statuses("aws.logs.retention_one_year", logs) == {
        "forever": Status.PASS,
        "year": Status.PASS,
        "week": Status.FAIL,
    }
