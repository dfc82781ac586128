"""Secrets Manager checks: secrets rotate automatically, have rotated recently, and are still in use."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, age_days, bad, each, good, unknown
from controls.registry import Verdict, check

MAX_DAYS = 90

SECRETS = Listing("secretsmanager", "list_secrets", "SecretList", "secret:*", arn=lambda inv, s: s["ARN"],
                  label=lambda s: f"secret {s.get('Name', s['ARN'])}")


@check("aws.secretsmanager.rotation_enabled", severity=Severity.MEDIUM,
       resource_type="AwsSecretsManagerSecret",
       title="Secrets Manager secrets rotate automatically",
       rationale="""Passwords and keys of system accounts must change periodically. Automatic rotation
       changes them on a schedule without anyone handling the value.""",
       remediation="""In the Secrets Manager console open the secret, choose Rotation > Edit rotation, turn
       on automatic rotation with a rotation function, or run `aws secretsmanager rotate-secret
       --rotation-rules AutomaticallyAfterDays=90`.""")
def rotation_enabled(inv: AwsInventory) -> Iterator[Verdict]:
    yield from each(inv, SECRETS, lambda s: good("rotates automatically") if s.get("RotationEnabled") is True
                    else bad("does not rotate automatically"))


@check("aws.secretsmanager.rotated_recently", severity=Severity.MEDIUM,
       resource_type="AwsSecretsManagerSecret",
       title="Secrets Manager secrets have changed within 90 days",
       rationale="""Rotation that is configured but failing leaves the same secret in use for ever. The
       last rotation date shows whether it really happens.""",
       remediation="""Check the rotation function's CloudWatch logs, fix it, and run `aws secretsmanager
       rotate-secret --secret-id <secret>`; rotate by hand if the secret cannot rotate automatically.""")
def rotated_recently(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(secret: Item) -> Judgement:
        last = secret.get("LastRotatedDate")
        days = age_days(last or secret.get("CreatedDate"), secret.record)
        if days is None:
            return unknown("states neither its last rotation nor its creation date")
        if days <= MAX_DAYS:
            return good(f"changed {days} days ago" if last else f"was created {days} days ago")
        return bad(f"last rotated {days} days ago" if last else f"has never rotated in {days} days")
    yield from each(inv, SECRETS, judge)


@check("aws.secretsmanager.in_use", severity=Severity.LOW, resource_type="AwsSecretsManagerSecret",
       title="Secrets Manager secrets have been read within 90 days",
       rationale="""A secret nobody reads belongs to an application or account that is gone; it still
       grants access to whoever finds it and should be removed.""",
       remediation="""Confirm nothing uses the secret (CloudTrail GetSecretValue events), then delete it with
       `aws secretsmanager delete-secret --secret-id <secret>` and disable the credential it holds.""")
def in_use(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(secret: Item) -> Judgement:
        last = secret.get("LastAccessedDate")
        days = age_days(last or secret.get("CreatedDate"), secret.record)
        if days is None:
            return unknown("states neither its last access nor its creation date")
        if days <= MAX_DAYS:
            return good(f"was read {days} days ago" if last else f"was created {days} days ago")
        return bad(f"was last read {days} days ago" if last else f"has not been read in its {days} days")
    yield from each(inv, SECRETS, judge)
