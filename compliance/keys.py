"""The Ed25519 key that signs evidence packs: given by the user or generated once per user.

The generated key lives in the user's config directory (`$COMPLY_CONFIG_DIR`, else
`$XDG_CONFIG_HOME/comply`, else `~/.config/comply`) as `signing-key.pem` (mode 0600), with its public half
beside it as `signing-key.pub`.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from compliance.errors import UsageError

PRIVATE_NAME = "signing-key.pem"
PUBLIC_NAME = "signing-key.pub"


def config_dir() -> Path:
    if explicit := os.environ.get("COMPLY_CONFIG_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "comply"


def default_key_path() -> Path:
    return config_dir() / PRIVATE_NAME


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: Ed25519PublicKey) -> str:
    """SHA-256 of the raw public key, as a person compares it: 'SHA256:ab12...'."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + hashlib.sha256(raw).hexdigest()


def generate(path: Path) -> Ed25519PrivateKey:
    """A new key written to path (0600) and its public half to signing-key.pub beside it."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    (path.parent / PUBLIC_NAME).write_bytes(public_pem(key.public_key()))
    return key


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise UsageError(f"cannot read signing key {path}: {exc.strerror}") from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UsageError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise UsageError(f"{path} is not an Ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read public key {path}: {exc.strerror}") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UsageError(f"{path} is not a PEM public key: {exc}") from None
    if not isinstance(key, Ed25519PublicKey):
        raise UsageError(f"{path} is not an Ed25519 public key")
    return key


def signing_key(path: Path | None = None) -> Ed25519PrivateKey:
    """The key the user named, else the user's key from the config directory, generated on first use."""
    if path is not None:
        return load_private(path)
    default = default_key_path()
    return load_private(default) if default.exists() else generate(default)
