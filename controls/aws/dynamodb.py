"""DynamoDB checks: tables are encrypted with a KMS key whose use is controlled and logged."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, answer, bad, each, good, unknown
from controls.registry import Verdict, check

TABLES = Listing("dynamodb", "list_tables", "TableNames", "table/*",
                 arn=lambda inv, t: inv.arn("dynamodb", t.region, f"table/{t['item']}"),
                 label=lambda t: f"table {t['item']}")


@check("aws.dynamodb.kms_encrypted", severity=Severity.MEDIUM, resource_type="AwsDynamoDbTable",
       title="DynamoDB tables are encrypted with a KMS key",
       rationale="""Every table is encrypted at rest, but only with a KMS key (AWS or customer managed) is
       each use of the key visible in CloudTrail and subject to a key policy.""",
       remediation="""In the DynamoDB console open the table, choose Additional settings > Encryption >
       Manage encryption and pick an AWS managed or customer managed KMS key, or run
       `aws dynamodb update-table --sse-specification Enabled=true,SSEType=KMS`.""")
def kms_encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(table: Item) -> Judgement:
        rec, why = answer(inv, table, "dynamodb", "describe_table", TableName=table["item"])
        if why:
            return unknown(f"encryption unknown: {why}", rec)
        sse = ((rec.response or {}).get("Table") or {}).get("SSEDescription") or {}  # type: ignore[union-attr]
        if sse.get("Status") == "ENABLED" and sse.get("SSEType") == "KMS":
            return good(f"is encrypted with KMS key {sse.get('KMSMasterKeyArn', '?')}", rec)
        return bad("is encrypted only with an AWS owned key, not a KMS key", rec)
    yield from each(inv, TABLES, judge)
