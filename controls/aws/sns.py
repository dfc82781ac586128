"""SNS checks: topics encrypt the messages they hold with KMS."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, answer, bad, each, good, unknown
from controls.registry import Verdict, check

TOPICS = Listing("sns", "list_topics", "Topics", "*", arn=lambda inv, t: t["TopicArn"],
                 label=lambda t: f"topic {str(t['TopicArn']).rsplit(':', 1)[-1]}")


@check("aws.sns.kms_encrypted", severity=Severity.MEDIUM, resource_type="AwsSnsTopic",
       title="SNS topics encrypt messages at rest with KMS",
       rationale="""Notifications can carry transaction details and alerts about the payment system;
       server-side encryption keeps the messages SNS stores unreadable without the key.""",
       remediation="""In the SNS console edit the topic and enable Encryption with a KMS key, or run
       `aws sns set-topic-attributes --attribute-name KmsMasterKeyId --attribute-value alias/aws/sns`.""")
def kms_encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(topic: Item) -> Judgement:
        rec, why = answer(inv, topic, "sns", "get_topic_attributes", TopicArn=topic["TopicArn"])
        if why:
            return unknown(f"attributes unknown: {why}", rec)
        key = ((rec.response or {}).get("Attributes") or {}).get("KmsMasterKeyId")  # type: ignore[union-attr]
        return good(f"encrypts with {key}", rec) if key else bad("does not encrypt messages at rest", rec)
    yield from each(inv, TOPICS, judge)
