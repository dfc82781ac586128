"""Signing with an AWS KMS asymmetric key (moto in-process): packs, seals and the fingerprint."""

from __future__ import annotations

import json
import zipfile

import boto3
import pytest
from moto import mock_aws

from compliance import keys, seal
from compliance.errors import UsageError
from compliance.evidence import verify_pack
from compliance.store import Store
from reports import write_reports
from tests.reports.conftest import make_scan

REGION = "eu-west-1"


@pytest.fixture
def kms():
    with mock_aws():
        yield boto3.client("kms", region_name=REGION)


def _key(kms, spec: str, usage: str = "SIGN_VERIFY") -> str:
    return kms.create_key(KeySpec=spec, KeyUsage=usage)["KeyMetadata"]["Arn"]


@pytest.mark.parametrize(
    ("spec", "algorithm"),
    [
        ("ECC_NIST_P256", "ecdsa-p256-sha256"),
        ("ECC_NIST_P384", "ecdsa-p384-sha384"),
        ("RSA_2048", "rsa-pss-sha256"),
    ],
)
def test_a_kms_key_signs_the_pack_and_seals_the_store(kms, tmp_path, spec, algorithm):
    spec_text = "kms:" + _key(kms, spec)
    signer = keys.signer(spec_text)
    assert signer.algorithm == algorithm
    fingerprint = keys.fingerprint(signer.public_key())
    public_der = kms.get_public_key(KeyId=spec_text[4:])["PublicKey"]
    assert fingerprint == keys.hashlib.sha256(public_der).hexdigest()

    scan = make_scan("kms00001")
    store = Store(f"sqlite:///{tmp_path / 'kms.db'}")
    store.save_scan(scan, signer)
    assert store.load_scan("kms00001", trusted=seal.trusted_key(spec_text)).id == "kms00001"
    with pytest.raises(UsageError, match="no signing key to verify"):
        store.load_scan("kms00001")  # no default key exists: the KMS key must be named

    pack = write_reports(scan, ["evidence"], tmp_path / "out", signing_key=spec_text)[-1]
    with zipfile.ZipFile(pack) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    assert manifest["signer"] == {
        "algorithm": algorithm,
        "fingerprint": fingerprint,
        "public_key": keys.public_pem(signer.public_key()).decode(),
        "signs": "sha256-statement",
    }
    assert verify_pack(pack, fingerprint=fingerprint).ok
    assert not verify_pack(pack).ok


def test_kms_signatures_are_canonical_low_s(kms):
    signer = keys.signer("kms:" + _key(kms, "ECC_NIST_P256"))
    public = signer.public_key()
    for n in range(20):
        data = f"message {n}".encode()
        encoded = signer.sign(data)
        assert keys.verify_signature(public, encoded, data)
        r, s = keys.decode_dss_signature(bytes.fromhex(encoded.decode()))
        high = keys.encode_dss_signature(r, keys._ORDERS["secp256r1"] - s).hex().encode()
        assert not keys.verify_signature(public, high, data)  # the other, valid-but-non-canonical S


def test_kms_keys_that_cannot_sign_are_refused(kms):
    with pytest.raises(UsageError, match="is not a SIGN_VERIFY key"):
        keys.signer("kms:" + _key(kms, "RSA_2048", "ENCRYPT_DECRYPT"))
    with pytest.raises(UsageError, match=r"KMS key .*NotFoundException"):
        keys.signer(f"kms:arn:aws:kms:{REGION}:123456789012:key/00000000-0000-0000-0000-000000000000")
    with pytest.raises(UsageError, match="needs a key ARN"):
        keys.signer("kms:")


def test_signing_key_from_the_organisation_setting(kms, monkeypatch, tmp_path):
    spec_text = "kms:" + _key(kms, "ECC_NIST_P256")
    monkeypatch.setenv(keys.ENV_KEY, spec_text)
    assert keys.signer().source == spec_text
    store = Store(f"sqlite:///{tmp_path / 'org.db'}")
    store.save_scan(make_scan("org00001"))
    assert store.load_scan("org00001").id == "org00001"
    assert not keys.default_key_path().exists()  # the organisation's key is used; none was generated
