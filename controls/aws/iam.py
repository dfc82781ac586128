"""IAM checks: the root user, passwords, access keys, unused credentials and over-broad policies."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from compliance.collect.record import EvidenceRecord, Outcome
from compliance.findings import Severity
from controls.aws.inventory import GLOBAL, AwsInventory, Item
from controls.aws.verdicts import (
    Judgement,
    Listing,
    age_days,
    answer,
    bad,
    days_between,
    each,
    good,
    listing_errors,
    policy_statements,
    unknown,
    unusable,
)
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


DAYS_UNUSED = 90
MAX_KEY_AGE = 90
MIN_PASSWORD_LENGTH = 12
PASSWORD_HISTORY = 4
MAX_PASSWORD_AGE = 90
ROOT_VIRTUAL_MFA = ":mfa/root-account-mfa-device"

USERS = Listing("iam", "list_users", "Users", "user/*", arn=lambda inv, u: u["Arn"],
                label=lambda u: f"user {u['UserName']}", scope=GLOBAL)


def _summary(inv: AwsInventory) -> tuple[EvidenceRecord | None, str | None, dict[str, Any]]:
    rec = inv.call("iam", "get_account_summary")
    why = unusable(rec, "get_account_summary")
    return rec, why, ((rec.response or {}).get("SummaryMap") or {}) if rec is not None and not why else {}


@check("aws.iam.root_access_keys", severity=Severity.CRITICAL, resource_type="AwsIamUser",
       title="The root user has no access keys",
       rationale="""Root access keys give unrestricted, unattributable programmatic control of the whole
       account and cannot be limited by any policy. Nobody should hold them.""",
       remediation="""Sign in as the root user, open Security credentials > Access keys and delete every
       key; give automation IAM roles with only the permissions it needs.""")
def root_access_keys(inv: AwsInventory) -> Iterator[Verdict]:
    arn = inv.arn("iam", GLOBAL, "root")
    rec, why, summary = _summary(inv)
    present = summary.get("AccountAccessKeysPresent")
    if why:
        yield errored(arn, f"root access keys unknown: {why}", rec)
    elif present == 0:
        yield passed(arn, "the root user has no access keys", rec)
    elif present == 1:
        yield failed(arn, "the root user has an active access key", rec)
    else:
        yield errored(arn, "get_account_summary does not state AccountAccessKeysPresent", rec)


@check("aws.iam.root_hardware_mfa", severity=Severity.HIGH, resource_type="AwsIamUser",
       title="The root user's MFA is a hardware device, not a virtual one",
       rationale="""A virtual MFA app lives on a phone that can be lost, cloned or used by whoever holds
       it. A hardware key kept in a safe gives the most powerful user a second factor that cannot be
       copied.""",
       remediation="""Sign in as the root user, register a FIDO security key or hardware TOTP token under
       Security credentials > Multi-factor authentication, then remove the virtual MFA device.""")
def root_hardware_mfa(inv: AwsInventory) -> Iterator[Verdict]:
    arn = inv.arn("iam", GLOBAL, "root")
    rec, why, summary = _summary(inv)
    devices = inv.call("iam", "list_virtual_mfa_devices")
    why = why or unusable(devices, "list_virtual_mfa_devices")
    if why:
        yield errored(arn, f"root MFA device type unknown: {why}", rec, devices)
        return
    virtual = [d for d in (devices.response or {}).get("VirtualMFADevices") or []  # type: ignore[union-attr]
               if str(d.get("SerialNumber", "")).endswith(ROOT_VIRTUAL_MFA)
               or str((d.get("User") or {}).get("Arn", "")).endswith(":root")]
    if summary.get("AccountMFAEnabled") != 1:
        yield failed(arn, "the root user has no MFA device at all", rec, devices)
    elif virtual:
        yield failed(arn, f"the root user's MFA is the virtual device {virtual[0].get('SerialNumber')}", rec,
                     devices)
    else:
        yield passed(arn, "the root user's MFA is a hardware device (no virtual device is assigned to it)",
                     rec, devices)


PolicyTest = Callable[[dict[str, Any]], tuple[bool, str]]


def _password_rule(inv: AwsInventory, test: PolicyTest) -> Iterator[Verdict]:
    arn = inv.arn("iam", GLOBAL, "account-password-policy")
    rec = inv.call("iam", "get_account_password_policy")
    why = unusable(rec, "get_account_password_policy")
    if rec is None or why:
        yield errored(arn, f"password policy unknown: {why}", rec)
    elif rec.outcome is Outcome.ABSENT:
        yield failed(arn, "the account has no password policy (AWS's default allows 8-character passwords "
                     "that never expire)", rec)
    else:
        ok, reason = test((rec.response or {}).get("PasswordPolicy") or {})
        yield (passed if ok else failed)(arn, f"password policy {reason}", rec)


@check("aws.iam.password_length", severity=Severity.MEDIUM, resource_type="AwsIamPasswordPolicy",
       title="IAM passwords are at least 12 characters long",
       rationale="""Short passwords fall to guessing and cracking. At least twelve characters is the
       floor the payment industry now expects for user passwords.""",
       remediation="""In IAM > Account settings > Password policy set Minimum password length to 12 or
       more, or run `aws iam update-account-password-policy --minimum-password-length 12`.""")
def password_length(inv: AwsInventory) -> Iterator[Verdict]:
    def test(policy: dict[str, Any]) -> tuple[bool, str]:
        length = int(policy.get("MinimumPasswordLength") or 0)
        return length >= MIN_PASSWORD_LENGTH, f"requires at least {length} characters"
    yield from _password_rule(inv, test)


@check("aws.iam.password_complexity", severity=Severity.MEDIUM, resource_type="AwsIamPasswordPolicy",
       title="IAM passwords must mix letters and numbers",
       rationale="""Passwords made only of letters or only of digits have far fewer combinations to try.
       Requiring both letters and numbers raises the cost of guessing.""",
       remediation="""In IAM > Account settings > Password policy require at least one letter and one
       number, or run `aws iam update-account-password-policy --require-numbers
       --require-lowercase-characters`.""")
def password_complexity(inv: AwsInventory) -> Iterator[Verdict]:
    def test(policy: dict[str, Any]) -> tuple[bool, str]:
        letters = policy.get("RequireLowercaseCharacters") or policy.get("RequireUppercaseCharacters")
        numbers = policy.get("RequireNumbers")
        missing = [n for n, v in (("letters", letters), ("numbers", numbers)) if not v]
        return not missing, ("requires letters and numbers" if not missing
                             else f"does not require {' or '.join(missing)}")
    yield from _password_rule(inv, test)


@check("aws.iam.password_reuse", severity=Severity.LOW, resource_type="AwsIamPasswordPolicy",
       title="IAM passwords cannot repeat any of the last four",
       rationale="""When people may cycle back to an old password, a password that has leaked stays
       usable. Remembering the last four prevents that.""",
       remediation="""In IAM > Account settings > Password policy tick Prevent password reuse and remember
       4 or more, or run `aws iam update-account-password-policy --password-reuse-prevention 4`.""")
def password_reuse(inv: AwsInventory) -> Iterator[Verdict]:
    def test(policy: dict[str, Any]) -> tuple[bool, str]:
        remembered = int(policy.get("PasswordReusePrevention") or 0)
        return remembered >= PASSWORD_HISTORY, f"remembers {remembered} previous password(s)"
    yield from _password_rule(inv, test)


@check("aws.iam.password_max_age", severity=Severity.LOW, resource_type="AwsIamPasswordPolicy",
       title="IAM passwords expire within 90 days",
       rationale="""Where a password is the only factor, changing it at least every ninety days limits how
       long a stolen one stays useful.""",
       remediation="""In IAM > Account settings > Password policy tick Enable password expiration with 90
       days or fewer, or run `aws iam update-account-password-policy --max-password-age 90`.""")
def password_max_age(inv: AwsInventory) -> Iterator[Verdict]:
    def test(policy: dict[str, Any]) -> tuple[bool, str]:
        days = policy.get("MaxPasswordAge")
        if not policy.get("ExpirePasswords") or not days:
            return False, "never expires passwords"
        return int(days) <= MAX_PASSWORD_AGE, f"expires passwords after {days} days"
    yield from _password_rule(inv, test)


def _keys(inv: AwsInventory, user: Item) -> tuple[EvidenceRecord | None, str | None, list[dict[str, Any]]]:
    rec, why = answer(inv, user, "iam", "list_access_keys", UserName=user["UserName"])
    keys = (rec.response or {}).get("AccessKeyMetadata") or [] if rec is not None and not why else []
    return rec, why, [k for k in keys if k.get("Status") == "Active"]


@check("aws.iam.access_key_rotation", severity=Severity.MEDIUM, resource_type="AwsIamUser",
       title="Active IAM access keys are younger than 90 days",
       rationale="""An access key is a password for programs. Replacing it at least every ninety days
       limits how long a leaked key works.""",
       remediation="""Create a second key for the user, move the workload to it, then deactivate and delete
       the old key (`aws iam create-access-key`, `update-access-key --status Inactive`,
       `delete-access-key`); better, replace user keys with IAM roles.""")
def access_key_rotation(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(user: Item) -> Judgement:
        rec, why, keys = _keys(inv, user)
        if why:
            return unknown(f"access keys unknown: {why}", rec)
        ages = {k.get("AccessKeyId", "?"): age_days(k.get("CreateDate"), rec) for k in keys}  # type: ignore[arg-type]
        if any(a is None for a in ages.values()):
            return unknown("has an access key without a readable creation date", rec)
        old = [f"{key} ({age} days)" for key, age in ages.items() if age is not None and age > MAX_KEY_AGE]
        if old:
            return bad(f"has active access key(s) older than {MAX_KEY_AGE} days: {', '.join(old)}", rec)
        return good(f"has {len(keys)} active access key(s), none older than {MAX_KEY_AGE} days", rec)
    yield from each(inv, USERS, judge)


@check("aws.iam.unused_access_keys", severity=Severity.MEDIUM, resource_type="AwsIamUser",
       title="No active IAM access key has gone unused for 90 days",
       rationale="""An access key nobody uses still opens the account to whoever finds it. Keys idle for
       ninety days should be removed or disabled.""",
       remediation="""Deactivate the idle key with `aws iam update-access-key --status Inactive` (or in IAM >
       Users > Security credentials) and delete it once nothing breaks.""")
def unused_access_keys(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(user: Item) -> Judgement:
        rec, why, keys = _keys(inv, user)
        if why:
            return unknown(f"access keys unknown: {why}", rec)
        idle, evidence = [], [rec]
        for key in keys:
            key_id = key.get("AccessKeyId", "?")
            used, why = answer(inv, user, "iam", "get_access_key_last_used", AccessKeyId=key_id)
            evidence.append(used)
            if why:
                return unknown(f"last use of access key {key_id} unknown: {why}", *evidence)
            last = ((used.response or {}).get("AccessKeyLastUsed") or {}).get("LastUsedDate")  # type: ignore[union-attr]
            days = age_days(last or key.get("CreateDate"), used)  # type: ignore[arg-type]
            if days is None:
                return unknown(f"access key {key_id} has no readable dates", *evidence)
            if days > DAYS_UNUSED:
                idle.append(f"{key_id} ({'unused for' if last else 'never used, created'} {days} days"
                            f"{'' if last else ' ago'})")
        if idle:
            return bad(f"has idle active access key(s): {', '.join(idle)}", *evidence)
        return good(f"has {len(keys)} active access key(s), each used within {DAYS_UNUSED} days", *evidence)
    yield from each(inv, USERS, judge)


@check("aws.iam.unused_console_password", severity=Severity.MEDIUM, resource_type="AwsIamUser",
       title="No console password has gone unused for 90 days",
       rationale="""Accounts nobody signs in with belong to people who left or no longer need access.
       Inactive user accounts must be removed or disabled within ninety days.""",
       remediation="""Remove the user's console password (IAM > Users > Security credentials > Manage
       console access > Disable, or `aws iam delete-login-profile`) or delete the user.""")
def unused_console_password(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(user: Item) -> Judgement | None:
        profile, why = answer(inv, user, "iam", "get_login_profile", UserName=user["UserName"])
        if why:
            return unknown(f"console access unknown: {why}", profile)
        if profile.outcome is Outcome.ABSENT:  # type: ignore[union-attr]
            return None
        last = user.get("PasswordLastUsed")
        created = ((profile.response or {}).get("LoginProfile") or {}).get("CreateDate")  # type: ignore[union-attr]
        days = age_days(last or created or user.get("CreateDate"), user.record)
        if days is None:
            return unknown("has a console password without readable dates", profile)
        if days > DAYS_UNUSED:
            what = (f"last signed in {days} days ago" if last
                    else f"never signed in, password set {days} days ago")
            return bad(f"has a console password and {what}", profile)
        return good(f"has a console password used within {DAYS_UNUSED} days", profile)
    yield from each(inv, USERS, judge)


@check("aws.iam.user_direct_policies", severity=Severity.LOW, resource_type="AwsIamUser",
       title="IAM users get permissions through groups or roles, not their own policies",
       rationale="""Granting access per job function, through groups and roles, keeps privileges
       reviewable and consistent. Policies attached to single users drift and escape review.""",
       remediation="""Put the user in a group (or have them assume a role) carrying the needed policy, then
       detach the user's managed policies (`aws iam detach-user-policy`) and delete inline ones
       (`aws iam delete-user-policy`).""")
def user_direct_policies(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(user: Item) -> Judgement:
        name = user["UserName"]
        attached, why1 = answer(inv, user, "iam", "list_attached_user_policies", UserName=name)
        inline, why2 = answer(inv, user, "iam", "list_user_policies", UserName=name)
        if why1 or why2:
            return unknown(f"user policies unknown: {why1 or why2}", attached, inline)
        names = [p.get("PolicyName", "?") for p in (attached.response or {}).get("AttachedPolicies") or []]  # type: ignore[union-attr]
        names += [f"{p} (inline)" for p in (inline.response or {}).get("PolicyNames") or []]  # type: ignore[union-attr]
        if names:
            return bad(f"has policies of its own: {', '.join(names)}", attached, inline)
        return good("has no policies of its own", attached, inline)
    yield from each(inv, USERS, judge)


def grants_everything(document: Any) -> bool:
    """An Allow of action '*' on resource '*': full administrator rights."""
    for st in policy_statements(document):
        actions = st.get("Action")
        resources = st.get("Resource")
        if st.get("Effect") == "Allow" and "*" in (actions if isinstance(actions, list) else [actions]) \
                and "*" in (resources if isinstance(resources, list) else [resources]):
            return True
    return False


POLICIES = Listing("iam", "list_policies", "Policies", "policy/*", arn=lambda inv, p: p["Arn"],
                   label=lambda p: f"policy {p.get('PolicyName', p['Arn'])}", scope=GLOBAL,
                   params={"Scope": "Local", "OnlyAttached": True})


@check("aws.iam.full_admin_policies", severity=Severity.HIGH, resource_type="AwsIamPolicy",
       title="No attached customer managed policy grants every action on every resource",
       rationale="""A policy allowing "*" on "*" makes whoever holds it an administrator of the whole
       account. Access must be limited to what each job needs.""",
       remediation="""Replace the statement with the actions and resources the job needs (IAM Access
       Analyzer can generate a policy from activity), then `aws iam create-policy-version
       --set-as-default` and delete the old version.""")
def full_admin_policies(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(policy: Item) -> Judgement:
        version, why = answer(inv, policy, "iam", "get_policy_version", PolicyArn=policy["Arn"],
                              VersionId=policy.get("DefaultVersionId"))
        if why:
            return unknown(f"document unknown: {why}", version)
        document = ((version.response or {}).get("PolicyVersion") or {}).get("Document")  # type: ignore[union-attr]
        if document is None:
            return unknown("get_policy_version returned no document", version)
        if grants_everything(document):
            return bad(f"allows every action on every resource and is attached "
                       f"{policy.get('AttachmentCount', '?')} time(s)", version)
        return good("does not grant full administrator rights", version)
    yield from each(inv, POLICIES, judge)


@check("aws.iam.server_certificates_valid", severity=Severity.MEDIUM, resource_type="AwsIamServerCertificate",
       title="No expired server certificate is kept in IAM",
       rationale="""An expired certificate still stored in IAM can be attached to a load balancer by
       mistake, breaking TLS or teaching users to click through warnings.""",
       remediation="""Delete the expired certificate with `aws iam delete-server-certificate
       --server-certificate-name <name>` after moving any listener to a current certificate (preferably one
       from ACM).""")
def server_certificates_valid(inv: AwsInventory) -> Iterator[Verdict]:
    listing = Listing("iam", "list_server_certificates", "ServerCertificateMetadataList",
                      "server-certificate/*", arn=lambda inv, c: c["Arn"],
                      label=lambda c: f"server certificate {c['ServerCertificateName']}", scope=GLOBAL)

    def judge(cert: Item) -> Judgement:
        left = days_between(cert.record.collected_at, cert.get("Expiration"))
        if left is None:
            return unknown("has no readable expiry date")
        if left < 0:
            return bad(f"expired {-left} day(s) ago")
        return good(f"is valid for {left} more day(s)")
    yield from each(inv, listing, judge)
