"""Key management: the key-encryption key (AWS KMS or a local file), envelope encryption,
the PAN fingerprint key and the rotating Ed25519 token-signing keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.orm import Session

from wallet import audit
from wallet.config import MAX_TOKEN_TTL
from wallet.models import SecretKey, SigningKey, utcnow

_NONCE = 12


class KeyFailure(RuntimeError):
    """A key could not be read, created or unwrapped."""


class KeyEncryptionKey(Protocol):
    """Wraps data keys. `source` names the key so a record says which key protects it."""

    source: str

    def new_data_key(self) -> tuple[bytes, bytes]: ...

    def wrap(self, plaintext: bytes) -> bytes: ...

    def unwrap(self, wrapped: bytes) -> bytes: ...


class LocalKek:
    """A 256-bit AES key in a file readable only by its owner, created on first use."""

    def __init__(self, path: Path) -> None:
        self.source = f"file:{path}"
        self._aead = AESGCM(_load_or_create_key_file(path))

    def new_data_key(self) -> tuple[bytes, bytes]:
        key = AESGCM.generate_key(bit_length=256)
        return key, self.wrap(key)

    def wrap(self, plaintext: bytes) -> bytes:
        nonce = os.urandom(_NONCE)
        return nonce + self._aead.encrypt(nonce, plaintext, b"wallet-kek")

    def unwrap(self, wrapped: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], b"wallet-kek")
        except Exception:  # InvalidTag or a truncated blob
            raise KeyFailure(f"cannot unwrap a key with {self.source}") from None


class KmsKek:
    """The key-encryption key never leaves AWS KMS; data keys come from GenerateDataKey."""

    def __init__(self, key_id: str, client: Any) -> None:
        self.source = f"kms:{key_id}"
        self._key_id = key_id
        self._kms = client

    def new_data_key(self) -> tuple[bytes, bytes]:
        out = self._kms.generate_data_key(KeyId=self._key_id, KeySpec="AES_256")
        return out["Plaintext"], out["CiphertextBlob"]

    def wrap(self, plaintext: bytes) -> bytes:
        return self._kms.encrypt(KeyId=self._key_id, Plaintext=plaintext)["CiphertextBlob"]

    def unwrap(self, wrapped: bytes) -> bytes:
        return self._kms.decrypt(KeyId=self._key_id, CiphertextBlob=wrapped)["Plaintext"]


def make_kek(key_file: Path, kms_key_id: str = "", region: str = "") -> KeyEncryptionKey:
    if kms_key_id:
        import boto3

        return KmsKek(kms_key_id, boto3.client("kms", region_name=region or None))
    return LocalKek(key_file)


def _load_or_create_key_file(path: Path) -> bytes:
    try:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(AESGCM.generate_key(bit_length=256))
        key = path.read_bytes()
    except FileExistsError:  # another process created it between our check and open
        key = path.read_bytes()
    except OSError as exc:
        raise KeyFailure(f"cannot read or create key file {path}: {exc.strerror}") from None
    if len(key) != 32:
        raise KeyFailure(f"key file {path} must hold exactly 32 bytes")
    return key


@dataclass(frozen=True)
class Sealed:
    ciphertext: bytes
    wrapped_key: bytes
    key_source: str


def seal(kek: KeyEncryptionKey, plaintext: bytes, context: bytes) -> Sealed:
    """Envelope encryption: a fresh data key per record, itself wrapped by the KEK."""
    data_key, wrapped = kek.new_data_key()
    nonce = os.urandom(_NONCE)
    return Sealed(nonce + AESGCM(data_key).encrypt(nonce, plaintext, context), wrapped, kek.source)


def unseal(kek: KeyEncryptionKey, sealed: Sealed, context: bytes) -> bytes:
    data_key = kek.unwrap(sealed.wrapped_key)
    return AESGCM(data_key).decrypt(sealed.ciphertext[:_NONCE], sealed.ciphertext[_NONCE:], context)


def named_secret(session: Session, kek: KeyEncryptionKey, name: str) -> bytes:
    """A 256-bit secret stored wrapped under `name`, created on first use."""
    row = session.get(SecretKey, name)
    if row is None:
        secret = secrets.token_bytes(32)
        session.add(SecretKey(name=name, wrapped=kek.wrap(secret), key_source=kek.source))
        session.flush()
        return secret
    return kek.unwrap(row.wrapped)


def keyed_hash(key: bytes, value: str) -> str:
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


# -- token-signing keys -------------------------------------------------------------------------


def create_signing_key(session: Session, kek: KeyEncryptionKey) -> SigningKey:
    """Add a new active signing key and retire the previous ones (they still verify until tokens expire)."""
    now = utcnow()
    for old in session.scalars(select(SigningKey).where(SigningKey.retired_at.is_(None))):
        old.retired_at = now
    private = Ed25519PrivateKey.generate()
    raw = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    public = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    key = SigningKey(
        kid=f"key_{secrets.token_hex(8)}",
        private_wrapped=kek.wrap(raw),
        key_source=kek.source,
        public_key=public,
        created_at=now,
    )
    session.add(key)
    session.flush()
    return key


class SigningKeys:
    """The process's view of the signing keys, reloaded from the database when a kid is unknown
    or the cached active key is older than `refresh` seconds (another process may have rotated)."""

    def __init__(self, kek: KeyEncryptionKey, refresh: float = 30.0) -> None:
        self._kek = kek
        self._refresh = refresh
        self._lock = threading.Lock()
        self._public: dict[str, Ed25519PublicKey] = {}
        self._active: tuple[str, Ed25519PrivateKey] | None = None
        self._loaded_at = 0.0

    def active(self, session: Session) -> tuple[str, Ed25519PrivateKey]:
        with self._lock:
            if self._active is None or time.monotonic() - self._loaded_at > self._refresh:
                self._load(session)
            if self._active is None:
                key = create_signing_key(session, self._kek)
                audit.record(
                    session, action="key.create", actor="system", subject=key.kid, key_source=self._kek.source
                )
                session.commit()
                self._load(session)
            if self._active is None:  # pragma: no cover - the key was just written
                raise KeyFailure("no active signing key")
            return self._active

    def public(self, session: Session, kid: str) -> Ed25519PublicKey | None:
        with self._lock:
            # An unknown kid may come from a key rotated in by another process; re-read, but at most
            # once a second, so tokens with made-up kids cannot turn every request into a query.
            if kid not in self._public and time.monotonic() - self._loaded_at > 1.0:
                self._load(session)
            return self._public.get(kid)

    def _load(self, session: Session) -> None:
        rows = session.scalars(select(SigningKey).order_by(SigningKey.created_at)).all()
        cutoff = time.time() - MAX_TOKEN_TTL
        self._public = {
            r.kid: Ed25519PublicKey.from_public_bytes(r.public_key)
            for r in rows
            if r.retired_at is None or r.retired_at.timestamp() > cutoff
        }
        live = [r for r in rows if r.retired_at is None]
        if live:
            key = live[-1]
            private = Ed25519PrivateKey.from_private_bytes(self._kek.unwrap(key.private_wrapped))
            self._active = (key.kid, private)
        else:
            self._active = None
        self._loaded_at = time.monotonic()
