from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, absent, broken, by_resource, inventory, ok, only, run

ROTATION = "aws.kms.key_rotation"
ROOT = "aws.iam.root_mfa"
CONSOLE = "aws.iam.console_user_mfa"
KEY_ARN = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1"


def keys(*ids: str):
    return ok("kms", "list_keys", {"Keys": [{"KeyId": k, "KeyArn": KEY_ARN.replace("k1", k)} for k in ids]})


def described(key: str = "k1", **meta):
    body = {"KeyId": key, "KeyManager": "CUSTOMER", "KeyState": "Enabled", "Enabled": True,
            "KeySpec": "SYMMETRIC_DEFAULT", "KeyUsage": "ENCRYPT_DECRYPT", "Description": "cards", **meta}
    return ok("kms", "describe_key", {"KeyMetadata": body}, KeyId=key)


def rotation(enabled: bool, key: str = "k1", **extra):
    return ok("kms", "get_key_rotation_status", {"KeyRotationEnabled": enabled, **extra}, KeyId=key)


def test_rotating_customer_key_passes_and_static_one_fails():
    passing = only(ROTATION, inventory(keys("k1"), described(), rotation(True, RotationPeriodInDays=365)))
    assert passing.status is Status.PASS
    assert passing.reason == "key k1 (cards) rotates automatically every 365 days"
    assert passing.resource_id == KEY_ARN
    assert len(passing.evidence_ids) == 3
    failing = only(ROTATION, inventory(keys("k1"), described(), rotation(False)))
    assert failing.status is Status.FAIL and failing.reason == "key k1 (cards) does not rotate automatically"


@pytest.mark.parametrize("meta", [
    {"KeyManager": "AWS"}, {"KeyState": "Disabled", "Enabled": False}, {"KeyState": "PendingDeletion"},
    {"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"},
    {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"},
])
def test_keys_rotation_does_not_apply_to_are_out_of_scope(meta):
    assert run(ROTATION, inventory(keys("k1"), described(**meta), rotation(False))) == []


def test_moto_shape_without_key_usage_is_in_scope():
    meta = described()
    del meta.response["KeyMetadata"]["KeyUsage"]
    assert only(ROTATION, inventory(keys("k1"), meta, rotation(True))).status is Status.PASS


def test_unreadable_key_records_are_errors():
    inv = inventory(keys("k1", "k2", "k3"), broken("kms", "describe_key", KeyId="k1"), described("k2"),
                    described("k3"), broken("kms", "get_key_rotation_status", KeyId="k3"))
    found = by_resource(run(ROTATION, inv))
    assert {f.status for f in found.values()} == {Status.ERROR}
    assert "metadata unknown" in found[KEY_ARN].reason
    assert "get_key_rotation_status was not collected" in found[KEY_ARN.replace("k1", "k2")].reason


def summary(value):
    body = {"SummaryMap": {"Users": 1, "AccountMFAEnabled": value}}
    return ok("iam", "get_account_summary", body, region=None)


@pytest.mark.parametrize(("value", "status"), [(1, Status.PASS), (0, Status.FAIL), (None, Status.ERROR)])
def test_root_mfa(value, status):
    finding = only(ROOT, inventory(summary(value)))
    assert finding.status is status
    assert finding.resource_id == f"arn:aws:iam::{ACCOUNT}:root"


@pytest.mark.parametrize("records", [(), (broken("iam", "get_account_summary", region=None),)])
def test_root_mfa_unknown(records):
    assert only(ROOT, inventory(*records)).status is Status.ERROR


def users(*names: str):
    return ok("iam", "list_users", {"Users": [{"UserName": n, "Arn": f"arn:aws:iam::{ACCOUNT}:user/{n}"}
                                              for n in names]}, region=None)


def profile(name: str):
    return ok("iam", "get_login_profile", {"LoginProfile": {"UserName": name}}, region=None, UserName=name)


def mfa(name: str, count: int):
    devices = [{"UserName": name, "SerialNumber": f"arn:mfa/{i}"} for i in range(count)]
    return ok("iam", "list_mfa_devices", {"MFADevices": devices}, region=None, UserName=name)


def test_console_users_need_mfa():
    inv = inventory(users("ann", "bob", "svc"), profile("ann"), mfa("ann", 1), profile("bob"), mfa("bob", 0),
                    absent("iam", "get_login_profile", region=None, code="NoSuchEntity", UserName="svc"))
    found = by_resource(run(CONSOLE, inv))
    assert set(found) == {f"arn:aws:iam::{ACCOUNT}:user/ann", f"arn:aws:iam::{ACCOUNT}:user/bob"}
    assert found[f"arn:aws:iam::{ACCOUNT}:user/ann"].status is Status.PASS
    bob = found[f"arn:aws:iam::{ACCOUNT}:user/bob"]
    assert bob.status is Status.FAIL and bob.reason == "user bob has a console password and no MFA device"
    assert bob.region is None


def test_console_user_unknowns_are_errors():
    inv = inventory(users("ann", "bob"), profile("ann"),
                    broken("iam", "list_mfa_devices", region=None, UserName="ann"))
    found = by_resource(run(CONSOLE, inv))
    assert {f.status for f in found.values()} == {Status.ERROR}
    assert "get_login_profile was not collected" in found[f"arn:aws:iam::{ACCOUNT}:user/bob"].reason
    assert only(CONSOLE, inventory(broken("iam", "list_users", region=None))).resource_id == \
        f"arn:aws:iam::{ACCOUNT}:user/*"
