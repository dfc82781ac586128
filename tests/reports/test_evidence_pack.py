"""The signed evidence pack: contents, signature, and every kind of tampering detected."""

from __future__ import annotations

import json
import os
import stat
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import x25519
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from compliance import keys
from compliance.errors import UsageError
from compliance.evidence import MANIFEST, SIGNATURE, canonical_zip, sha256, verify_pack, write_pack
from reports import write_reports
from tests.reports.conftest import ATTESTATION_BYTES, make_scan


@pytest.fixture
def pack(tmp_path, scan, store) -> Path:
    return _with_pack(tmp_path, scan, store)


def _with_pack(tmp_path: Path, scan, store) -> Path:
    paths = write_reports(scan, ["evidence", "csv"], tmp_path / "out", store=store)
    assert paths[-1].name == "evidence.zip"
    return paths[-1]


def rewrite(pack: Path, change) -> None:
    """Rebuild the zip exactly as comply lays it out, with change(members) applied to its {name: bytes}."""
    with zipfile.ZipFile(pack) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    pack.write_bytes(canonical_zip(members))


def test_same_files_in_another_zip_layout_detected(pack):
    with zipfile.ZipFile(pack) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    with zipfile.ZipFile(pack, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    assert verify_pack(pack).problems == [
        "archive structure altered: the zip's bytes differ from the canonical pack of the same files"
    ]


def test_pack_holds_what_an_assessor_needs(pack, scan):
    with zipfile.ZipFile(pack) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read(MANIFEST))
        raw = [json.loads(zf.read(n)) for n in names if n.startswith("raw/")]
        attestation = zf.read("attestations/att00001/minutes.pdf")
    assert {"findings.ocsf.json", "findings.csv", "requirement-results.json", MANIFEST, SIGNATURE} <= names
    assert attestation == ATTESTATION_BYTES
    assert manifest["scan_id"] == scan.id
    assert manifest["identity"]["Arn"].endswith(":user/auditor")
    assert manifest["scope"]["regions"] == ["eu-west-1", "us-east-1"]
    assert manifest["started_at"] == scan.started_at and manifest["finished_at"] == scan.finished_at
    assert manifest["scan_tool_version"] == scan.tool_version
    assert manifest["catalog_versions"] == scan.catalog_versions
    assert set(manifest["files"]) == names - {MANIFEST, SIGNATURE}
    assert {r["request_id"] for r in raw} == {"REQ-1", "REQ-2", None}
    assert {r["operation"] for r in raw} == {e.operation for e in scan.evidence}
    denied = next(r for r in raw if r["outcome"] == "error")
    assert denied["error_code"] == "AccessDenied"
    assert (pack.parent / keys.PUBLIC_NAME).read_bytes().startswith(b"-----BEGIN PUBLIC KEY-----")


def _own_fingerprint() -> str:
    return keys.fingerprint(keys.signer().public_key())


def test_untouched_pack_verifies_only_against_a_pinned_key(pack, config_dir):
    unpinned = verify_pack(pack)
    assert unpinned.intact and not unpinned.ok and not unpinned.pinned
    assert unpinned.key_fingerprint == _own_fingerprint()
    fp = _own_fingerprint()
    for typed in (
        fp,
        fp.upper(),
        keys.grouped(fp),
        ":".join(fp[i : i + 2] for i in range(0, 64, 2)),
        "SHA256:" + fp,
    ):
        result = verify_pack(pack, fingerprint=typed)
        assert result.ok, result.problems
    assert result.files == 8 and result.key_fingerprint == fp
    assert verify_pack(pack, config_dir / keys.PUBLIC_NAME).ok
    with pytest.raises(UsageError, match="not a SHA-256 fingerprint"):
        verify_pack(pack, fingerprint="abc")
    with pytest.raises(UsageError, match="not both"):
        verify_pack(pack, config_dir / keys.PUBLIC_NAME, fp)


def test_manifest_records_scan_creation_time_tool_version_and_signer(pack, scan):
    with zipfile.ZipFile(pack) as zf:
        manifest = json.loads(zf.read(MANIFEST))
    assert manifest["scan_id"] == scan.id and manifest["created_at"][:4] >= "2026"
    assert manifest["tool"]["version"] and manifest["scan_tool_version"] == scan.tool_version
    assert manifest["signer"]["fingerprint"] == _own_fingerprint()
    assert manifest["signer"]["algorithm"] == "ed25519"


def test_one_byte_changed_in_a_file(pack):
    rewrite(pack, lambda m: m.__setitem__("findings.csv", b"X" + m["findings.csv"][1:]))
    assert verify_pack(pack).problems == ["findings.csv: altered"]


def test_file_deleted(pack):
    rewrite(pack, lambda m: m.pop("findings.ocsf.json"))
    assert verify_pack(pack).problems == ["findings.ocsf.json: missing"]


def test_file_added(pack):
    rewrite(pack, lambda m: m.__setitem__("raw/extra.json", b"{}"))
    assert verify_pack(pack).problems == ["raw/extra.json: added (not in the manifest)"]


def test_duplicate_entry_detected(pack):
    with zipfile.ZipFile(pack, "a") as zf, pytest.warns(UserWarning):
        zf.writestr("findings.csv", b"forged")
    problems = verify_pack(pack).problems
    assert "findings.csv: appears 2 times in the archive" in problems


def test_signature_swapped_from_another_pack(pack, tmp_path, scan, store):
    scan.finished_at = "2026-01-10T09:00:06.000+00:00"
    other = _with_pack(tmp_path / "third", scan, store)
    with zipfile.ZipFile(other) as zf:
        foreign = zf.read(SIGNATURE)
    rewrite(pack, lambda m: m.__setitem__(SIGNATURE, foreign))
    problems = verify_pack(pack).problems
    assert len(problems) == 1 and problems[0].startswith("manifest.sig: bad signature")


def test_pack_resigned_with_the_attackers_key_beside_it(pack, tmp_path, config_dir):
    """The attacker edits a file, re-signs the manifest with their key, puts it in the manifest and
    beside the pack: the pinned key refuses it and, unpinned, it is never reported as verified."""
    intruder = Ed25519PrivateKey.generate()

    def forge(members: dict[str, bytes]) -> None:
        members["findings.csv"] = b"nothing failed\n"
        manifest = json.loads(members[MANIFEST])
        manifest["files"]["findings.csv"] = {"sha256": sha256(b"nothing failed\n"), "size": 15}
        manifest["signer"] = {
            "algorithm": "ed25519",
            "fingerprint": keys.fingerprint(intruder.public_key()),
            "public_key": keys.public_pem(intruder.public_key()).decode(),
        }
        members[MANIFEST] = json.dumps(manifest).encode()
        members[SIGNATURE] = intruder.sign(members[MANIFEST]).hex().encode() + b"\n"

    pinned = _own_fingerprint()
    rewrite(pack, forge)
    (pack.parent / keys.PUBLIC_NAME).write_bytes(keys.public_pem(intruder.public_key()))
    (config_dir / keys.PUBLIC_NAME).write_bytes(keys.public_pem(intruder.public_key()))
    refused = verify_pack(pack, fingerprint=pinned)
    assert not refused.ok
    assert refused.problems == [
        f"manifest.sig: signed by key {keys.fingerprint(intruder.public_key())}, "
        f"not by the pinned key {pinned}"
    ]
    unpinned = verify_pack(pack)
    assert not unpinned.ok and unpinned.key_fingerprint == keys.fingerprint(intruder.public_key())


def test_non_canonical_signature_encodings_are_alterations(pack):
    with zipfile.ZipFile(pack) as zf:
        good = zf.read(SIGNATURE)
    fp = _own_fingerprint()
    for variant in (
        good.upper(),
        good.rstrip(b"\n"),
        good + b"\n",
        b" " + good,
        good.rstrip(b"\n") + b"\r\n",
        b"00" + good,
        base64_of(good),
    ):
        rewrite(pack, lambda m, v=variant: m.__setitem__(SIGNATURE, v))
        problems = verify_pack(pack, fingerprint=fp).problems
        assert problems and problems[0].startswith("manifest.sig: bad signature"), variant
    rewrite(pack, lambda m: m.__setitem__(SIGNATURE, good))
    assert verify_pack(pack, fingerprint=fp).ok


def base64_of(encoded: bytes) -> bytes:
    import base64

    return base64.b64encode(bytes.fromhex(encoded.decode().strip())) + b"\n"


@pytest.mark.parametrize(
    "name", ["/etc/passwd", "../outside.txt", "raw/../../x", "raw\\x.json", "raw/a\x01b", "C:/windows/x"]
)
def test_unsafe_entry_names_refused_even_when_signed(pack, name):
    signer = keys.signer()

    def smuggle(members: dict[str, bytes]) -> None:
        members[name] = b"payload"
        manifest = json.loads(members[MANIFEST])
        manifest["files"][name] = {"sha256": sha256(b"payload"), "size": 7}
        members[MANIFEST] = json.dumps(manifest).encode()
        members[SIGNATURE] = signer.sign(members[MANIFEST]) + b"\n"

    rewrite(pack, smuggle)
    result = verify_pack(pack, fingerprint=_own_fingerprint())
    assert not result.ok and any("entry name refused" in p for p in result.problems), result.problems
    with pytest.raises(ValueError, match="refused"):
        write_pack(pack.parent / "x.zip", make_scan(), {name: b"x"}, signer)


def test_missing_signature_and_broken_manifest(pack):
    rewrite(pack, lambda m: m.pop(SIGNATURE))
    assert verify_pack(pack).problems == ["manifest.sig: missing"]
    rewrite(pack, lambda m: m.__setitem__(SIGNATURE, b"not hex"))
    assert verify_pack(pack).problems[0].startswith("manifest.sig: bad signature")
    rewrite(pack, lambda m: m.__setitem__(MANIFEST, b"{not json"))
    problems = verify_pack(pack).problems
    assert "manifest.json: altered (not valid JSON)" in problems and len(problems) == 2
    rewrite(pack, lambda m: m.__setitem__(MANIFEST, b"[]"))
    assert "manifest.json: altered (no file list)" in verify_pack(pack).problems
    rewrite(pack, lambda m: m.pop(MANIFEST))
    assert verify_pack(pack).problems == ["manifest.json: missing or unreadable"]


def test_every_single_byte_change_in_the_zip_is_caught(pack):
    original = pack.read_bytes()
    step = max(1, len(original) // 150)
    for offset in range(0, len(original), step):
        damaged = bytearray(original)
        damaged[offset] ^= 0x01
        pack.write_bytes(bytes(damaged))
        try:
            result = verify_pack(pack, fingerprint=_own_fingerprint())
        except UsageError:
            continue
        assert not result.intact, f"byte {offset} changed and the pack still verified"


def test_not_a_pack(tmp_path, pack):
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"hello")
    with pytest.raises(UsageError, match="not an evidence pack"):
        verify_pack(junk)
    with pytest.raises(UsageError, match="no such file"):
        verify_pack(tmp_path / "absent.zip")
    plain = tmp_path / "plain.zip"
    with zipfile.ZipFile(plain, "w") as zf:
        zf.writestr("notes.txt", b"x")
    with pytest.raises(UsageError, match=r"has no manifest\.json"):
        verify_pack(plain)


def test_a_local_key_never_stands_in_for_a_pin(pack, config_dir, tmp_path):
    other = Ed25519PrivateKey.generate()
    other_pub = tmp_path / "other.pub"
    other_pub.write_bytes(keys.public_pem(other.public_key()))
    result = verify_pack(pack, other_pub)
    assert not result.ok and "not by the pinned key" in result.problems[0]
    (config_dir / keys.PUBLIC_NAME).unlink()
    (pack.parent / keys.PUBLIC_NAME).unlink()
    assert verify_pack(pack).intact and not verify_pack(pack).ok


def test_key_generated_once_with_private_mode(config_dir):
    first = keys.signing_key()
    path = config_dir / keys.PRIVATE_NAME
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = keys.signing_key()
    assert keys.fingerprint(first.public_key()) == keys.fingerprint(again.public_key())
    assert keys.load_public(config_dir / keys.PUBLIC_NAME) is not None


def test_given_signing_key_is_used(tmp_path, scan):
    key = Ed25519PrivateKey.generate()
    key_file = tmp_path / "team.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    pack = write_reports(scan, ["evidence"], tmp_path / "out", signing_key=key_file)[-1]
    public = tmp_path / "team.pub"
    public.write_bytes(keys.public_pem(key.public_key()))
    assert verify_pack(pack, public).ok
    assert not (keys.config_dir() / keys.PRIVATE_NAME).exists()


def test_bad_key_files(tmp_path):
    text = tmp_path / "text.pem"
    text.write_text("not a key")
    with pytest.raises(UsageError, match="not an unencrypted PEM private key"):
        keys.load_private(text)
    with pytest.raises(UsageError, match="not a PEM public key"):
        keys.load_public(text)
    with pytest.raises(UsageError, match="cannot read signing key"):
        keys.load_private(tmp_path / "absent.pem")
    with pytest.raises(UsageError, match="cannot read public key"):
        keys.load_public(tmp_path / "absent.pub")
    x_key = x25519.X25519PrivateKey.generate()
    x_file = tmp_path / "x.pem"
    x_file.write_bytes(
        x_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    with pytest.raises(UsageError, match="is not an Ed25519, ECDSA or RSA key"):
        keys.load_private(x_file)
    x_pub = tmp_path / "x.pub"
    x_pub.write_bytes(
        x_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    with pytest.raises(UsageError, match="unsupported signing key type"):
        keys.load_public(x_pub)


def test_reserved_names_rejected(tmp_path, scan):
    with pytest.raises(ValueError, match="written by the pack"):
        write_pack(tmp_path / "p.zip", scan, {MANIFEST: b"{}"}, Ed25519PrivateKey.generate())


def test_config_dir_defaults(monkeypatch, tmp_path):
    monkeypatch.delenv("COMPLY_CONFIG_DIR")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    assert keys.config_dir() == tmp_path / "xdg" / "comply"
    monkeypatch.delenv("XDG_CONFIG_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert keys.config_dir() == tmp_path / "home" / ".config" / "comply"
