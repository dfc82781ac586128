"""IAM checks: the root user and every console user sign in with multi-factor authentication."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.collect.record import Outcome
from compliance.findings import Severity
from controls.aws.inventory import GLOBAL, AwsInventory
from controls.aws.verdicts import listing_errors, unusable
from controls.registry import Verdict, check, errored, failed, passed


@check("aws.iam.root_mfa", severity=Severity.CRITICAL, resource_type="AwsIamUser",
       title="The account's root user has MFA enabled",
       rationale="""The root user can do anything in the account, including closing it, and cannot be
       restricted by policies. A password alone is too weak a guard for it.""",
       remediation="""Sign in as the root user, open IAM > Security credentials > Multi-factor
       authentication (MFA) > Assign MFA device and register a hardware key or authenticator app.""")
def root_mfa(inv: AwsInventory) -> Iterator[Verdict]:
    arn = inv.arn("iam", GLOBAL, "root")
    rec = inv.call("iam", "get_account_summary")
    why = unusable(rec, "get_account_summary")
    if rec is None or why:
        yield errored(arn, f"root user MFA unknown: {why}", rec)
        return
    enabled = ((rec.response or {}).get("SummaryMap") or {}).get("AccountMFAEnabled")
    if enabled == 1:
        yield passed(arn, "the root user has MFA enabled", rec)
    elif enabled == 0:
        yield failed(arn, "the root user has no MFA device", rec)
    else:
        yield errored(arn, "get_account_summary does not state AccountMFAEnabled", rec)


@check("aws.iam.console_user_mfa", severity=Severity.HIGH, resource_type="AwsIamUser",
       title="IAM users with a console password have an MFA device",
       rationale="""Console access to an environment holding cardholder data must need more than one
       factor, so a stolen or guessed password alone does not let anyone in.""",
       remediation="""In the IAM console open the user, choose Security credentials > Assign MFA device, or
       run `aws iam enable-mfa-device`; remove the console password (`aws iam delete-login-profile`) of
       users who do not need the console.""")
def console_user_mfa(inv: AwsInventory) -> Iterator[Verdict]:
    users, failures = inv.global_listing("iam", "list_users", "Users")
    yield from listing_errors(inv, failures, "iam", "user/*")
    for user in users:
        name, arn = user["UserName"], user["Arn"]
        profile = inv.call("iam", "get_login_profile", None, UserName=name)
        why = unusable(profile, "get_login_profile")
        if profile is None or why:
            yield errored(arn, f"user {name}: console access unknown: {why}", user.record, profile)
            continue
        if profile.outcome is Outcome.ABSENT:
            continue
        devices = inv.call("iam", "list_mfa_devices", None, UserName=name)
        why = unusable(devices, "list_mfa_devices")
        if devices is None or why:
            yield errored(arn, f"user {name} has a console password; MFA devices unknown: {why}", user.record,
                          profile, devices)
        elif count := len((devices.response or {}).get("MFADevices") or []):
            yield passed(arn, f"user {name} has a console password and {count} MFA device(s)", user.record,
                         profile, devices)
        else:
            yield failed(arn, f"user {name} has a console password and no MFA device", user.record, profile,
                         devices)
