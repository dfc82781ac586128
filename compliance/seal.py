"""Seals: a signed digest over a record's canonical form, so an edited store is refused, not re-signed.

A seal is stored beside what it covers (the `seals` table, keyed by kind and id). It holds the SHA-256
of each part of the record, one digest over those, the signer's algorithm, public key and fingerprint,
and the signature over `comply-seal/1 <kind> <id> <digest>`. Verifying recomputes every part from the
rows as they are now, names each part that no longer matches, checks the signature, and requires the
signer to be the key the verifier trusts (the configured signing key): a seal re-made with another key
after an edit carries that other key's fingerprint and is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from compliance import keys
from compliance.errors import IntegrityError, UsageError

FORMAT = "comply-seal/1"


def canonical(value: Any) -> bytes:
    """One byte string per value: sorted keys, no spaces, UTF-8; tuples read as lists."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def digest(value: Any) -> str:
    return hashlib.sha256(canonical(value)).hexdigest()


def digest_list(items: Iterable[Any]) -> str:
    """digest(list(items)), computed one item at a time: canonical() of a list is its items'
    canonical forms joined by commas inside brackets."""
    hasher = hashlib.sha256(b"[")
    for n, item in enumerate(items):
        if n:
            hasher.update(b",")
        hasher.update(canonical(item))
    hasher.update(b"]")
    return hasher.hexdigest()


def _message(kind: str, record_id: str, overall: str) -> bytes:
    return f"{FORMAT} {kind} {record_id} {overall}".encode()


def make_seal(kind: str, record_id: str, parts: Mapping[str, Any], signer: keys.Signer,
              digests: Mapping[str, str] | None = None) -> dict[str, Any]:
    """`digests`: parts already digested as a stream (`digest_list`), too large to hold as values."""
    part_digests = {name: digest(value) for name, value in parts.items()} | dict(digests or {})
    overall = digest(part_digests)
    public = signer.public_key()
    return {
        "format": FORMAT,
        "kind": kind,
        "id": record_id,
        "parts": part_digests,
        "digest": overall,
        "algorithm": signer.algorithm,
        "key_fingerprint": keys.fingerprint(public),
        "public_key": keys.public_pem(public).decode(),
        "signature": signer.sign(_message(kind, record_id, overall)).decode("ascii"),
    }


def problems(
    seal: Mapping[str, Any] | None,
    kind: str,
    record_id: str,
    parts: Mapping[str, Any],
    trusted: keys.PublicKey,
) -> list[str]:
    """What no longer matches; empty when the record is as sealed by the trusted key."""
    if not seal:
        return ["it has no seal (it was never sealed, or the seal was removed)"]
    out: list[str] = []
    sealed_parts = seal.get("parts") or {}
    for name, value in parts.items():
        if sealed_parts.get(name) != digest(value):
            out.append(f"its {name.replace('_', ' ')} no longer match the seal")
    for name in sorted(set(sealed_parts) - set(parts)):
        out.append(f"its sealed {name.replace('_', ' ')} are missing")
    overall = digest(sealed_parts)
    if seal.get("digest") != overall or seal.get("kind") != kind or seal.get("id") != record_id:
        out.append("the seal itself was altered")
    public = keys.public_from_pem(seal.get("public_key") or "")
    sig = str(seal.get("signature") or "").encode("ascii", "replace")
    if public is None or not keys.verify_signature(public, sig, _message(kind, record_id, overall)):
        out.append("the seal's signature does not verify")
    elif keys.fingerprint(public) != keys.fingerprint(trusted):
        out.append(
            f"it was sealed by key {seal.get('key_fingerprint')}, not by the configured signing key "
            f"{keys.fingerprint(trusted)}"
        )
    return out


def require(
    seal: Mapping[str, Any] | None,
    kind: str,
    record_id: str,
    parts: Mapping[str, Any],
    trusted: keys.PublicKey,
    label: str,
) -> None:
    """Raise IntegrityError (exit 1) naming the record and what no longer matches."""
    found = problems(seal, kind, record_id, parts, trusted)
    if found:
        raise IntegrityError(f"{label} fails its seal: {'; '.join(found)}: refusing to use it")


def trusted_key(spec: str | None = None, *, kms_client: Any = None) -> keys.PublicKey:
    """The public half of the configured signing key, without creating one."""
    chosen = keys.configured_spec(spec)
    if chosen is not None:
        return keys.signer(chosen, kms_client=kms_client).public_key()
    path = keys.default_key_path()
    if path.exists():
        return keys.load_private(path).public_key()
    public = path.parent / keys.PUBLIC_NAME
    if public.exists():
        return keys.load_public(public)
    raise UsageError(
        f"no signing key to verify the store's seals with: pass --signing-key or set "
        f"{keys.ENV_KEY} to the key that sealed it"
    )
