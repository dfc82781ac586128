"""The evidence pack: one zip that proves what a scan saw, that nothing changed since, and who signed it.

Layout: `manifest.json` (pack format, scan id, the pack's creation time, the tool version that wrote
the pack and the one that ran the scan, catalog versions, scope, caller identity, start and end times,
the signer's algorithm, public key and fingerprint, and the SHA-256 and size of every other file),
`manifest.sig` (the signature over the exact bytes of manifest.json, lower-case hex and one newline:
its only accepted encoding), `raw/` (each evidence record as collected), `findings.ocsf.json`,
`requirement-results.json` and `.csv`, the rendered reports and `attestations/<id>/<file>`.

Trust. The manifest carries the signer's public key, but a key that travels with the pack proves
nothing by itself: whoever edits the pack can re-sign it with a key of their own. So a pack verifies
(exit 0) only against a key the verifier pins, by its fingerprint (`--fingerprint`, the SHA-256 of
the DER SubjectPublicKeyInfo, given out of band) or as a PEM file (`--public-key`). Without a pin the
verifier still checks every byte and the signature, and says "intact, signed by key <fp>" without
ever calling it verified (exit 3). No key found on the verifier's machine is used in place of a pin.

Entry names. A name that is absolute, contains `..` or a backslash, or a control character is refused
even when the manifest lists and signs it, so no pack can write outside the folder it is unpacked into.

Container. The zip is written canonically (stored, fixed times and attributes, manifest and signature
first, the rest sorted by name), so the verifier rebuilds it from the member bytes and compares: a change
to any byte of the archive, not only to a member's content, is detected.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import re
import zipfile
import zlib
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance import __version__, keys
from compliance.errors import UsageError
from compliance.scan import Scan

MANIFEST = "manifest.json"
STATEMENT = "sha256-statement"
"""signer.signs when the signature covers keys.statement(manifest bytes), not the bytes themselves."""
SIGNATURE = "manifest.sig"
PACK_FORMAT = "comply-evidence-pack/2"
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)
_UNIX = 3
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def unsafe_name(name: str) -> str | None:
    """Why an entry name is refused, or None when it is safe to unpack."""
    if not name:
        return "empty name"
    if _CONTROL.search(name):
        return "control character in the name"
    if "\\" in name:
        return "backslash in the name"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "absolute path"
    if ".." in name.split("/"):
        return "'..' in the path"
    return None


def _as_signer(key: Any) -> keys.Signer:
    """A Signer, or a bare private key object wrapped as one."""
    if hasattr(key, "algorithm") and hasattr(key, "source"):
        return key  # type: ignore[no-any-return]
    return keys.FileSigner(key, "key")


Member = bytes | Path
"""A pack member's content: bytes, or a file holding them (streamed, so a pack of any size fits)."""

_CHUNK = 1 << 20


def _hash_size(data: Member) -> tuple[str, int]:
    if isinstance(data, bytes):
        return sha256(data), len(data)
    hasher, size = hashlib.sha256(), 0
    with data.open("rb") as f:
        while chunk := f.read(_CHUNK):
            hasher.update(chunk)
            size += len(chunk)
    return hasher.hexdigest(), size


def build_manifest(
    scan: Scan, files: Mapping[str, Member], signer: keys.Signer, created_at: str | None = None
) -> bytes:
    public = signer.public_key()
    manifest: dict[str, Any] = {
        "format": PACK_FORMAT,
        "scan_id": scan.id,
        "created_at": created_at or dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "target": scan.target,
        "tool": {"name": "comply", "version": __version__},
        "scan_tool_version": scan.tool_version,
        "catalog_versions": scan.catalog_versions,
        "scope": scan.scope,
        "identity": scan.identity,
        "started_at": scan.started_at,
        "finished_at": scan.finished_at,
        "signer": {
            "algorithm": signer.algorithm,
            "fingerprint": keys.fingerprint(public),
            "public_key": keys.public_pem(public).decode(),
            "signs": STATEMENT if getattr(signer, "prehash", False) else MANIFEST,
        },
        "signer_fingerprint": keys.fingerprint(public),
        "files": {name: dict(zip(("sha256", "size"), _hash_size(data), strict=True))
                  for name, data in sorted(files.items())},
    }
    return json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"


def write_pack(path: Path, scan: Scan, files: Mapping[str, Member], key: Any) -> Path:
    """Write the pack, signed by key (a Signer or a private key), and its public key beside it."""
    signer = _as_signer(key)
    for reserved in (MANIFEST, SIGNATURE):
        if reserved in files:
            raise ValueError(f"{reserved} is written by the pack itself")
    for name in files:
        if why := unsafe_name(name):
            raise ValueError(f"pack entry {name!r} refused: {why}")
    manifest = build_manifest(scan, files, signer)
    signed = keys.statement(manifest) if getattr(signer, "prehash", False) else manifest
    signature = signer.sign(signed) + b"\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        _write_canonical_zip(out, {**files, MANIFEST: manifest, SIGNATURE: signature})
    (path.parent / keys.PUBLIC_NAME).write_bytes(keys.public_pem(signer.public_key()))
    return path


def canonical_zip(members: Mapping[str, Member]) -> bytes:
    """The one byte layout comply writes for these members, whatever the platform or clock."""
    buffer = io.BytesIO()
    _write_canonical_zip(buffer, members)
    return buffer.getvalue()


def _write_canonical_zip(out: Any, members: Mapping[str, Member]) -> None:
    """canonical_zip written into a seekable file, a member at a time (file members in chunks)."""
    order = [n for n in (MANIFEST, SIGNATURE) if n in members] + sorted(set(members) - {MANIFEST, SIGNATURE})
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in order:
            info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
            info.create_system = _UNIX
            info.external_attr = 0o644 << 16
            data = members[name]
            if isinstance(data, bytes):
                zf.writestr(info, data)
                continue
            info.file_size = data.stat().st_size  # as writestr sets it: the same header either way
            with zf.open(info, "w") as dest, data.open("rb") as src:
                while chunk := src.read(_CHUNK):
                    dest.write(chunk)


@dataclass
class Verification:
    pack: Path
    scan_id: str = ""
    files: int = 0
    key_source: str = ""
    """'pinned fingerprint', the --public-key path, or 'the manifest (unpinned)'."""
    key_fingerprint: str = ""
    """The fingerprint of the key whose signature verified ('' when none did)."""
    pinned: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    @property
    def ok(self) -> bool:
        """Every byte checks and the signature is by the pinned key: the only exit-0 outcome."""
        return self.intact and self.pinned


def _read(zf: zipfile.ZipFile, name: str) -> bytes | None:
    """The member's bytes, or None when the archive's own checks (CRC, compression) fail on it."""
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, zlib.error, OSError, ValueError, EOFError, NotImplementedError):
        return None


def _pin(public_key: Path | None, fingerprint: str | None) -> tuple[str, str] | None:
    """(source, fingerprint) the verifier pins, or None when unpinned."""
    if public_key is not None and fingerprint is not None:
        raise UsageError("give --public-key or --fingerprint, not both")
    if public_key is not None:
        return str(public_key), keys.fingerprint(keys.load_public(public_key))
    if fingerprint is not None:
        return "pinned fingerprint", keys.parse_fingerprint(fingerprint)
    return None


def verify_pack(pack: Path, public_key: Path | None = None, fingerprint: str | None = None) -> Verification:
    """Check every name, file hash, the container and the signature. UsageError if it is not a pack."""
    pin = _pin(public_key, fingerprint)
    try:
        zf = zipfile.ZipFile(pack)
    except FileNotFoundError:
        raise UsageError(f"{pack}: no such file") from None
    except (zipfile.BadZipFile, OSError) as exc:
        raise UsageError(f"{pack} is not an evidence pack: {exc}") from None
    result = Verification(pack, pinned=pin is not None)
    with zf:
        names = zf.namelist()
        if MANIFEST not in names and SIGNATURE not in names:
            raise UsageError(f"{pack} is not an evidence pack: it has no {MANIFEST}")
        result.problems += [
            f"{n!r}: entry name refused ({why})" for n in dict.fromkeys(names) if (why := unsafe_name(n))
        ]
        result.problems += [
            f"{n}: appears {c} times in the archive" for n, c in Counter(names).items() if c > 1
        ]
        manifest_bytes = _read(zf, MANIFEST) if MANIFEST in names else None
        manifest = _parse_manifest(result, manifest_bytes)
        _check_signature(result, zf, names, manifest_bytes, manifest, pin)
        if manifest is None:
            return result
        result.scan_id = str(manifest.get("scan_id", ""))
        listed: dict[str, dict] = manifest.get("files") or {}
        result.files = len(listed)
        for name, entry in listed.items():
            if why := unsafe_name(name):
                result.problems.append(f"{name!r}: listed entry name refused ({why})")
                continue
            if name not in names:
                result.problems.append(f"{name}: missing")
                continue
            data = _read(zf, name)
            if (
                data is None
                or not isinstance(entry, dict)
                or sha256(data) != entry.get("sha256")
                or len(data) != entry.get("size")
            ):
                result.problems.append(f"{name}: altered")
        result.problems += [
            f"{n}: added (not in the manifest)"
            for n in dict.fromkeys(names)
            if n not in listed and n not in (MANIFEST, SIGNATURE)
        ]
        rebuilt = canonical_zip({n: _read(zf, n) or b"" for n in names}) if not result.problems else b""
        if not result.problems and rebuilt != pack.read_bytes():
            result.problems.append(
                "archive structure altered: the zip's bytes differ from the canonical pack of the same files"
            )
    return result


def _check_signature(
    result: Verification,
    zf: zipfile.ZipFile,
    names: list[str],
    manifest_bytes: bytes | None,
    manifest: dict | None,
    pin: tuple[str, str] | None,
) -> None:
    if manifest_bytes is None:
        result.problems.append(f"{MANIFEST}: missing or unreadable")
        return
    if SIGNATURE not in names:
        result.problems.append(f"{SIGNATURE}: missing")
        return
    signer = (manifest or {}).get("signer")
    carried = keys.public_from_pem(signer.get("public_key") or "") if isinstance(signer, dict) else None
    if carried is None:
        result.problems.append(f"{MANIFEST}: no usable signer public key")
        return
    carried_fp = keys.fingerprint(carried)
    raw = _read(zf, SIGNATURE) or b""
    encoded = raw[:-1] if raw.endswith(b"\n") else b"\x00"
    signed = keys.statement(manifest_bytes) if signer.get("signs") == STATEMENT else manifest_bytes
    if not keys.verify_signature(carried, encoded, signed):
        result.problems.append(
            f"{SIGNATURE}: bad signature (altered, re-encoded, or not by key {carried_fp})"
        )
        return
    if pin is not None:
        source, pinned_fp = pin
        if carried_fp != pinned_fp:
            result.problems.append(
                f"{SIGNATURE}: signed by key {carried_fp}, not by the pinned key {pinned_fp}"
            )
            return
        result.key_source = source
    else:
        result.key_source = "the manifest (unpinned)"
    result.key_fingerprint = carried_fp


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
