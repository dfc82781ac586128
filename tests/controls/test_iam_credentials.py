"""IAM checks beyond MFA: root keys, password policy, key age and use, idle passwords, broad policies."""

from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, absent, broken, by_resource, inventory, ok, only, run

ROOT = f"arn:aws:iam::{ACCOUNT}:root"
POLICY = f"arn:aws:iam::{ACCOUNT}:account-password-policy"


def summary(**values):
    return ok("iam", "get_account_summary", {"SummaryMap": values}, region=None)


def user(name: str, **fields) -> dict:
    return {
        "UserName": name,
        "Arn": f"arn:aws:iam::{ACCOUNT}:user/{name}",
        "CreateDate": "2024-01-01T00:00:00Z",
        **fields,
    }


def users(*items: dict):
    return ok("iam", "list_users", {"Users": list(items)}, region=None)


def g(service, operation, response, **params):
    return ok(service, operation, response, region=None, **params)


def test_root_access_keys():
    assert (
        only("aws.iam.root_access_keys", inventory(summary(AccountAccessKeysPresent=0))).status is Status.PASS
    )
    found = only("aws.iam.root_access_keys", inventory(summary(AccountAccessKeysPresent=1)))
    assert found.status is Status.FAIL and found.resource_id == ROOT
    assert only("aws.iam.root_access_keys", inventory(summary())).status is Status.ERROR
    assert (
        only("aws.iam.root_access_keys", inventory(broken("iam", "get_account_summary", region=None))).status
        is Status.ERROR
    )


def test_root_hardware_mfa():
    virtual = g(
        "iam",
        "list_virtual_mfa_devices",
        {
            "VirtualMFADevices": [
                {"SerialNumber": f"arn:aws:iam::{ACCOUNT}:mfa/root-account-mfa-device", "User": {"Arn": ROOT}}
            ]
        },
    )
    none = g("iam", "list_virtual_mfa_devices", {"VirtualMFADevices": []})
    check = "aws.iam.root_hardware_mfa"
    assert only(check, inventory(summary(AccountMFAEnabled=1), none)).status is Status.PASS
    found = only(check, inventory(summary(AccountMFAEnabled=1), virtual))
    assert found.status is Status.FAIL and "virtual device" in found.reason
    assert only(check, inventory(summary(AccountMFAEnabled=0), none)).status is Status.FAIL
    assert only(check, inventory(summary(AccountMFAEnabled=1))).status is Status.ERROR


STRONG = {
    "MinimumPasswordLength": 14,
    "RequireNumbers": True,
    "RequireLowercaseCharacters": True,
    "PasswordReusePrevention": 24,
    "ExpirePasswords": True,
    "MaxPasswordAge": 90,
}
WEAK = {
    "MinimumPasswordLength": 8,
    "RequireNumbers": False,
    "PasswordReusePrevention": 1,
    "ExpirePasswords": False,
}
PASSWORD_CHECKS = [
    "aws.iam.password_length",
    "aws.iam.password_complexity",
    "aws.iam.password_reuse",
    "aws.iam.password_max_age",
]


@pytest.mark.parametrize("check_id", PASSWORD_CHECKS)
def test_password_policy(check_id):
    def policy(p):
        return inventory(g("iam", "get_account_password_policy", {"PasswordPolicy": p}))

    assert only(check_id, policy(STRONG)).status is Status.PASS
    weak = only(check_id, policy(WEAK))
    assert weak.status is Status.FAIL and weak.resource_id == POLICY and weak.evidence_ids
    none = only(
        check_id, inventory(absent("iam", "get_account_password_policy", region=None, code="NoSuchEntity"))
    )
    assert none.status is Status.FAIL and "no password policy" in none.reason and none.evidence_ids
    assert only(check_id, inventory()).status is Status.ERROR


def keys(name: str, *items: dict):
    return g("iam", "list_access_keys", {"AccessKeyMetadata": list(items)}, UserName=name)


def key(key_id: str, created: str, status: str = "Active") -> dict:
    return {"AccessKeyId": key_id, "CreateDate": created, "Status": status}


def last_used(key_id: str, date: str | None):
    return g(
        "iam",
        "get_access_key_last_used",
        {"AccessKeyLastUsed": {"LastUsedDate": date} if date else {}},
        AccessKeyId=key_id,
    )


def test_access_key_rotation():
    inv = inventory(
        users(user("new"), user("old"), user("gone")),
        keys("new", key("AK1", "2024-12-01T00:00:00Z")),
        keys("old", key("AK2", "2024-06-01T00:00:00Z"), key("AK3", "2020-01-01T00:00:00Z", "Inactive")),
    )
    found = by_resource(run("aws.iam.access_key_rotation", inv))
    assert found[f"arn:aws:iam::{ACCOUNT}:user/new"].status is Status.PASS
    old = found[f"arn:aws:iam::{ACCOUNT}:user/old"]
    assert old.status is Status.FAIL and "AK2 (214 days)" in old.reason and "AK3" not in old.reason
    assert found[f"arn:aws:iam::{ACCOUNT}:user/gone"].status is Status.ERROR


def test_unused_access_keys():
    inv = inventory(
        users(user("busy"), user("idle"), user("never"), user("blind")),
        keys("busy", key("AK1", "2020-01-01T00:00:00Z")),
        last_used("AK1", "2024-12-20T00:00:00Z"),
        keys("idle", key("AK2", "2020-01-01T00:00:00Z")),
        last_used("AK2", "2024-01-01T00:00:00Z"),
        keys("never", key("AK3", "2024-01-01T00:00:00Z")),
        last_used("AK3", None),
        keys("blind", key("AK4", "2024-01-01T00:00:00Z")),
    )
    found = {f.resource_id.rsplit("/", 1)[1]: f for f in run("aws.iam.unused_access_keys", inv)}
    assert found["busy"].status is Status.PASS
    assert found["idle"].status is Status.FAIL and "unused for 366 days" in found["idle"].reason
    assert found["never"].status is Status.FAIL and "never used" in found["never"].reason
    assert found["blind"].status is Status.ERROR


def test_unused_console_password():
    profile = {"LoginProfile": {"CreateDate": "2023-01-01T00:00:00Z"}}
    inv = inventory(
        users(
            user("fresh", PasswordLastUsed="2024-12-30T00:00:00Z"),
            user("stale"),
            user("robot"),
            user("unknown"),
        ),
        g("iam", "get_login_profile", profile, UserName="fresh"),
        g("iam", "get_login_profile", profile, UserName="stale"),
        absent("iam", "get_login_profile", region=None, UserName="robot"),
    )
    found = {f.resource_id.rsplit("/", 1)[1]: f for f in run("aws.iam.unused_console_password", inv)}
    assert set(found) == {"fresh", "stale", "unknown"}
    assert found["fresh"].status is Status.PASS
    assert found["stale"].status is Status.FAIL and "never signed in" in found["stale"].reason
    assert found["unknown"].status is Status.ERROR


def test_user_direct_policies():
    inv = inventory(
        users(user("clean"), user("direct"), user("half")),
        g("iam", "list_attached_user_policies", {"AttachedPolicies": []}, UserName="clean"),
        g("iam", "list_user_policies", {"PolicyNames": []}, UserName="clean"),
        g(
            "iam",
            "list_attached_user_policies",
            {"AttachedPolicies": [{"PolicyName": "Admin"}]},
            UserName="direct",
        ),
        g("iam", "list_user_policies", {"PolicyNames": ["mine"]}, UserName="direct"),
        g("iam", "list_user_policies", {"PolicyNames": []}, UserName="half"),
    )
    found = {f.resource_id.rsplit("/", 1)[1]: f for f in run("aws.iam.user_direct_policies", inv)}
    assert found["clean"].status is Status.PASS
    assert found["direct"].status is Status.FAIL and found["direct"].reason.endswith("Admin, mine (inline)")
    assert found["half"].status is Status.ERROR


def test_full_admin_policies():
    def pol(name):
        return {
            "PolicyName": name,
            "Arn": f"arn:aws:iam::{ACCOUNT}:policy/{name}",
            "DefaultVersionId": "v1",
            "AttachmentCount": 1,
        }

    def version(name, document):
        return g(
            "iam",
            "get_policy_version",
            {"PolicyVersion": {"Document": document}},
            PolicyArn=f"arn:aws:iam::{ACCOUNT}:policy/{name}",
            VersionId="v1",
        )

    listing = g(
        "iam",
        "list_policies",
        {"Policies": [pol("admin"), pol("read"), pol("lost")]},
        Scope="Local",
        OnlyAttached=True,
    )
    inv = inventory(
        listing,
        version("admin", {"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]}),
        version("read", '{"Statement": {"Effect": "Allow", "Action": "s3:Get*", "Resource": "*"}}'),
    )
    found = {f.resource_id.rsplit("/", 1)[1]: f.status for f in run("aws.iam.full_admin_policies", inv)}
    assert found == {"admin": Status.FAIL, "read": Status.PASS, "lost": Status.ERROR}


def test_server_certificates_valid():
    def cert(name, expiry):
        return {
            "ServerCertificateName": name,
            "Arn": f"arn:aws:iam::{ACCOUNT}:server-certificate/{name}",
            "Expiration": expiry,
        }

    inv = inventory(
        g(
            "iam",
            "list_server_certificates",
            {
                "ServerCertificateMetadataList": [
                    cert("old", "2024-06-01T00:00:00Z"),
                    cert("new", "2026-01-01T00:00:00Z"),
                    cert("odd", None),
                ]
            },
        )
    )
    found = {f.resource_id.rsplit("/", 1)[1]: f.status for f in run("aws.iam.server_certificates_valid", inv)}
    assert found == {"old": Status.FAIL, "new": Status.PASS, "odd": Status.ERROR}
