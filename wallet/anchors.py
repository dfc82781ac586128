"""Anchoring the audit chain outside the database, so that whoever owns the database cannot rewrite,
empty or roll back the log unnoticed.

- The audit key (`<home>/audit.key`, 32 random bytes, mode 0600, never in the database) gives an
  Ed25519 key that signs anchors and an HMAC key that seals every entry of the chain.
- An anchor is a signed statement of the chain head: its position and hash, where MAC sealing starts,
  the ledger's high-water mark (the highest posting id) and the time. Anchors go to an append-only log
  the database role cannot write: a JSON-lines file in a directory (by default under the wallet's
  home), or S3 objects written with Object Lock in COMPLIANCE mode (`s3://bucket/prefix`).
- An anchor is appended only when the chain has grown and still contains the previous anchor's head,
  so a rolled-back or rewritten database is never anchored over.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ANCHOR_FILE = "anchors.jsonl"
RETENTION_DAYS = 400


class AnchorError(RuntimeError):
    """The anchor log or the audit key cannot be read or written; the message says which and why."""


class AuditKey:
    """The key outside the database: an Ed25519 anchor-signing key and an HMAC key for entries."""

    def __init__(self, seed: bytes) -> None:
        if len(seed) != 32:
            raise AnchorError("an audit key is 32 bytes")
        self._signing = Ed25519PrivateKey.from_private_bytes(seed)
        self.mac_key = hmac.new(seed, b"wallet audit entry mac", hashlib.sha256).digest()
        raw = self._signing.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        self.public = self._signing.public_key()
        self.fingerprint = "sha256:" + hashlib.sha256(raw).hexdigest()[:32]

    @classmethod
    def generate(cls) -> AuditKey:
        return cls(secrets.token_bytes(32))

    @classmethod
    def load(cls, path: Path, *, create: bool = False) -> AuditKey:
        try:
            if create and not path.exists():
                path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                try:
                    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    with os.fdopen(fd, "wb") as fh:
                        fh.write(secrets.token_bytes(32))
                except FileExistsError:  # made by another process meanwhile
                    pass
            return cls(path.read_bytes())
        except FileNotFoundError:
            raise AnchorError(f"audit key {path} not found") from None
        except OSError as exc:
            raise AnchorError(f"cannot read audit key {path}: {exc.strerror}") from None

    def mac(self, canonical: bytes) -> str:
        return hmac.new(self.mac_key, canonical, hashlib.sha256).hexdigest()

    def sign(self, payload: bytes) -> str:
        return base64.b64encode(self._signing.sign(payload)).decode()


@dataclass(frozen=True)
class Anchor:
    pos: int
    hash: str
    mac_from: int
    postings: int
    at: str
    key: str = ""
    sig: str = ""

    def payload(self) -> bytes:
        body = {k: v for k, v in asdict(self).items() if k != "sig"}
        return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()

    def signed(self, key: AuditKey) -> Anchor:
        unsigned = replace(self, key=key.fingerprint, sig="")
        return replace(unsigned, sig=key.sign(unsigned.payload()))

    def valid(self, public: Ed25519PublicKey) -> bool:
        try:
            public.verify(base64.b64decode(self.sig, validate=True), self.payload())
            return True
        except (InvalidSignature, ValueError):
            return False

    def line(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str | bytes) -> Anchor:
        try:
            data = json.loads(text)
            return cls(
                pos=int(data["pos"]),
                hash=str(data["hash"]),
                mac_from=int(data["mac_from"]),
                postings=int(data["postings"]),
                at=str(data["at"]),
                key=str(data["key"]),
                sig=str(data["sig"]),
            )
        except (ValueError, KeyError, TypeError):
            raise AnchorError("the newest anchor is malformed") from None

    @staticmethod
    def now() -> str:
        return datetime.now(UTC).isoformat(timespec="milliseconds")


class AnchorLog(Protocol):
    where: str

    def append(self, anchor: Anchor) -> None: ...

    def newest(self) -> Anchor | None: ...


class DirectoryAnchors:
    """A JSON-lines file opened for appending only, in a directory the database's owner cannot write."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / ANCHOR_FILE
        self.where = str(self.path)

    def append(self, anchor: Anchor) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, (anchor.line() + "\n").encode())  # one write: appends never interleave
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise AnchorError(f"cannot append to {self.path}: {exc.strerror}") from None

    def newest(self) -> Anchor | None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                fh.seek(max(0, size - 4096))
                lines = fh.read().splitlines()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise AnchorError(f"cannot read {self.path}: {exc.strerror}") from None
        lines = [line for line in lines if line.strip()]
        return Anchor.parse(lines[-1]) if lines else None


class S3Anchors:
    """One object per anchor, written with Object Lock in COMPLIANCE mode (not even the account's root
    can delete or overwrite it before the retention ends). Keys sort newest first, so the newest anchor
    is the first key of a listing."""

    def __init__(self, url: str, client: Any = None, region: str = "") -> None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self.where = url
        if client is None:
            import boto3

            client = boto3.client("s3", region_name=region or None)
        self._s3 = client

    def _key(self, anchor: Anchor) -> str:
        name = f"{10**15 - anchor.pos:015d}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S%f')}.json"
        return f"{self.prefix}/{name}" if self.prefix else name

    def append(self, anchor: Anchor) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self._s3.put_object(
                Bucket=self.bucket,
                Key=self._key(anchor),
                Body=anchor.line().encode(),
                ContentType="application/json",
                ObjectLockMode="COMPLIANCE",
                ObjectLockRetainUntilDate=datetime.now(UTC) + timedelta(days=RETENTION_DAYS),
                ChecksumAlgorithm="SHA256",
            )
        except (BotoCoreError, ClientError) as exc:
            raise AnchorError(f"cannot write an anchor to {self.where}: {exc}") from None

    def newest(self) -> Anchor | None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            listing = self._s3.list_objects_v2(
                Bucket=self.bucket, Prefix=f"{self.prefix}/" if self.prefix else "", MaxKeys=1
            )
            items = listing.get("Contents", [])
            if not items:
                return None
            body = self._s3.get_object(Bucket=self.bucket, Key=items[0]["Key"])["Body"].read()
        except (BotoCoreError, ClientError) as exc:
            raise AnchorError(f"cannot read anchors from {self.where}: {exc}") from None
        return Anchor.parse(body)


def anchor_log(location: str, *, region: str = "", client: Any = None) -> AnchorLog:
    if location.startswith("s3://"):
        return S3Anchors(location, client, region)
    return DirectoryAnchors(Path(location).expanduser())
