"""The evidence pack: one zip that proves what a scan saw and that nothing changed since.

Layout: `manifest.json` (scan id, tool and catalog versions, scope, caller identity, start and end
times, and the SHA-256 and size of every other file), `manifest.sig` (an Ed25519 signature over the exact
bytes of manifest.json), `raw/` (each evidence record as collected), `findings.ocsf.json`,
`requirement-results.json`, the rendered reports and `attestations/<id>/<file>`.

Trust. The pack does not carry its own public key: a key inside the pack proves nothing, since whoever
edits the pack can re-sign it with a key of their own. The verifier uses exactly one key: the one the user
passes (`--public-key`), else the user's own key from the config directory (the signer checking their own
pack), else the `signing-key.pub` written beside the pack. It says which key verified the pack and its
fingerprint, so a reader relying on the key beside the pack can compare that fingerprint with the one the
signer published. The manifest records the signer's fingerprint for that comparison only; it never picks
the key.

Container. The zip is written canonically (stored, fixed times and attributes, manifest and signature
first, the rest sorted by name), so the verifier rebuilds it from the member bytes and compares: a change
to any byte of the archive, not only to a member's content, is detected.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from compliance import keys
from compliance.errors import UsageError
from compliance.scan import Scan

MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
PACK_FORMAT = "comply-evidence-pack/1"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_UNIX = 3


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def build_manifest(scan: Scan, files: Mapping[str, bytes], signer: Ed25519PublicKey) -> bytes:
    manifest: dict[str, Any] = {
        "format": PACK_FORMAT,
        "scan_id": scan.id,
        "target": scan.target,
        "tool": {"name": "comply", "version": scan.tool_version},
        "catalog_versions": scan.catalog_versions,
        "scope": scan.scope,
        "identity": scan.identity,
        "started_at": scan.started_at,
        "finished_at": scan.finished_at,
        "signer_fingerprint": keys.fingerprint(signer),
        "files": {name: {"sha256": sha256(data), "size": len(data)} for name, data in sorted(files.items())},
    }
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def write_pack(path: Path, scan: Scan, files: Mapping[str, bytes], key: Ed25519PrivateKey) -> Path:
    """Write the pack and its public key beside it as signing-key.pub."""
    for reserved in (MANIFEST, SIGNATURE):
        if reserved in files:
            raise ValueError(f"{reserved} is written by the pack itself")
    manifest = build_manifest(scan, files, key.public_key())
    signature = (key.sign(manifest).hex() + "\n").encode()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(canonical_zip({**files, MANIFEST: manifest, SIGNATURE: signature}))
    (path.parent / keys.PUBLIC_NAME).write_bytes(keys.public_pem(key.public_key()))
    return path


def canonical_zip(members: Mapping[str, bytes]) -> bytes:
    """The one byte layout comply writes for these members, whatever the platform or clock."""
    order = [n for n in (MANIFEST, SIGNATURE) if n in members] + sorted(set(members) - {MANIFEST, SIGNATURE})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.create_system = _UNIX
            info.external_attr = 0o644 << 16
            zf.writestr(info, members[name])
    return buffer.getvalue()


@dataclass
class Verification:
    pack: Path
    scan_id: str = ""
    files: int = 0
    key_source: str = ""
    key_fingerprint: str = ""
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _trusted_key(pack: Path, public_key: Path | None) -> tuple[str, Ed25519PublicKey]:
    own = keys.config_dir() / keys.PUBLIC_NAME
    for path in (public_key, own, pack.parent / keys.PUBLIC_NAME):
        if path is not None and (path is public_key or path.is_file()):
            return str(path), keys.load_public(path)
    raise UsageError(f"no public key to verify with: pass --public-key (none in {own.parent} "
                     "or beside the pack)")


def _read(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """The member's bytes, or None when the archive's own checks (CRC, compression) fail on it."""
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError):
        return None


def verify_pack(pack: Path, public_key: Path | None = None) -> Verification:
    """Check every file's hash and the manifest's signature. Raises UsageError if it is not a pack."""
    trusted = _trusted_key(pack, public_key)
    try:
        zf = zipfile.ZipFile(pack)
    except FileNotFoundError:
        raise UsageError(f"{pack}: no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"{pack} is not an evidence pack: {exc}") from None
    result = Verification(pack)
    with zf:
        names = zf.namelist()
        if MANIFEST not in names and SIGNATURE not in names:
            raise UsageError(f"{pack} is not an evidence pack: it has no {MANIFEST}")
        result.problems += [f"{n}: appears {c} times in the archive"
                            for n, c in Counter(names).items() if c > 1]
        manifest_bytes = _read(zf, MANIFEST) if MANIFEST in names else None
        _check_signature(result, zf, names, manifest_bytes, trusted)
        manifest = _parse_manifest(result, manifest_bytes)
        if manifest is None:
            return result
        result.scan_id = str(manifest.get("scan_id", ""))
        listed: dict[str, dict] = manifest.get("files") or {}
        result.files = len(listed)
        for name, entry in listed.items():
            if name not in names:
                result.problems.append(f"{name}: missing")
                continue
            data = _read(zf, name)
            if data is None or sha256(data) != entry.get("sha256") or len(data) != entry.get("size"):
                result.problems.append(f"{name}: altered")
        result.problems += [f"{n}: added (not in the manifest)" for n in dict.fromkeys(names)
                            if n not in listed and n not in (MANIFEST, SIGNATURE)]
        rebuilt = canonical_zip({n: _read(zf, n) or b"" for n in names}) if not result.problems else b""
        if not result.problems and rebuilt != pack.read_bytes():
            result.problems.append("archive structure altered: the zip's bytes differ from the canonical "
                                   "pack of the same files")
    return result


def _check_signature(result: Verification, zf: zipfile.ZipFile, names: list[str], manifest: bytes | None,
                     trusted: tuple[str, Ed25519PublicKey]) -> None:
    if manifest is None:
        result.problems.append(f"{MANIFEST}: missing or unreadable")
        return
    if SIGNATURE not in names:
        result.problems.append(f"{SIGNATURE}: missing")
        return
    raw = _read(zf, SIGNATURE)
    try:
        signature = bytes.fromhex((raw or b"").decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        signature = b""
    source, key = trusted
    try:
        key.verify(signature, manifest)
    except InvalidSignature:
        result.problems.append(f"{SIGNATURE}: bad signature: the manifest was not signed by {source} "
                               f"({keys.fingerprint(key)}); pass the signer's key with --public-key")
        return
    result.key_source, result.key_fingerprint = source, keys.fingerprint(key)


def _parse_manifest(result: Verification, data: bytes | None) -> dict | None:
    if data is None:
        return None
    try:
        manifest = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        result.problems.append(f"{MANIFEST}: altered (not valid JSON)")
        return None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
        result.problems.append(f"{MANIFEST}: altered (no file list)")
        return None
    return manifest
