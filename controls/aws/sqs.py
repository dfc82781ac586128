"""SQS checks: queues encrypt the messages they hold."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, answer, bad, each, good, unknown
from controls.registry import Verdict, check


def queue_arn(inv: AwsInventory, queue: Item) -> str:
    return inv.arn("sqs", queue.region, str(queue["item"]).rstrip("/").rsplit("/", 1)[-1])


QUEUES = Listing("sqs", "list_queues", "QueueUrls", "*", arn=queue_arn,
                 label=lambda q: f"queue {str(q['item']).rstrip('/').rsplit('/', 1)[-1]}")


@check("aws.sqs.encrypted", severity=Severity.MEDIUM, resource_type="AwsSqsQueue",
       title="SQS queues encrypt messages at rest",
       rationale="""Queues between payment services hold messages, sometimes with account data, until they
       are processed. Server-side encryption keeps them unreadable on disk.""",
       remediation="""In the SQS console edit the queue and enable server-side encryption (SSE-SQS or
       SSE-KMS), or run `aws sqs set-queue-attributes --attributes SqsManagedSseEnabled=true`.""")
def encrypted(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(queue: Item) -> Judgement:
        rec, why = answer(inv, queue, "sqs", "get_queue_attributes", QueueUrl=queue["item"],
                          AttributeNames=["All"])
        if why:
            return unknown(f"attributes unknown: {why}", rec)
        attributes = (rec.response or {}).get("Attributes") or {}  # type: ignore[union-attr]
        if attributes.get("KmsMasterKeyId"):
            return good(f"encrypts with KMS key {attributes['KmsMasterKeyId']}", rec)
        if str(attributes.get("SqsManagedSseEnabled", "")).lower() == "true":
            return good("encrypts with SQS managed keys", rec)
        return bad("does not encrypt messages at rest", rec)
    yield from each(inv, QUEUES, judge)
