"""The key that signs evidence packs and seals the store: a PEM file or an AWS KMS asymmetric key.

Which key. `--signing-key` (a path, or `kms:ARN`), else `$COMPLY_SIGNING_KEY` (the organisation's
setting, same forms), else the user's own Ed25519 key in the config directory (`$COMPLY_CONFIG_DIR`,
else `$XDG_CONFIG_HOME/comply`, else `~/.config/comply`) as `signing-key.pem` (mode 0600) with its
public half beside it as `signing-key.pub`. That default key is generated once, loudly, and never
silently again: if its public half is still there but the private key is gone, comply refuses instead
of minting a new identity that would make every earlier seal look forged.

Fingerprint. A key is named by the SHA-256 of its public key's DER SubjectPublicKeyInfo, in lower-case
hex: the same value `openssl pkey -pubin -outform DER | sha256sum` prints, so an assessor can check it
with tools they trust. Input accepts separators (colons, spaces, dashes) and an optional `SHA256:`.

Signatures have one canonical text form: lower-case hex of the raw signature (Ed25519, RSA) or of the
DER encoding with a low S (ECDSA), and nothing else. Any other spelling of the same signature is treated
as an alteration, so a signature file's bytes are as fixed as the data it signs.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature, encode_dss_signature

from compliance.errors import UsageError

PRIVATE_NAME = "signing-key.pem"
PUBLIC_NAME = "signing-key.pub"
ENV_KEY = "COMPLY_SIGNING_KEY"
KMS_PREFIX = "kms:"

PublicKey = Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey

_CURVE_HASH = {"secp256r1": hashes.SHA256, "secp384r1": hashes.SHA384, "secp521r1": hashes.SHA512}
_EC_ALGORITHMS = {
    "secp256r1": "ecdsa-p256-sha256",
    "secp384r1": "ecdsa-p384-sha384",
    "secp521r1": "ecdsa-p521-sha512",
}
ALGORITHMS = ("ed25519", *_EC_ALGORITHMS.values(), "rsa-pss-sha256")


def config_dir() -> Path:
    if explicit := os.environ.get("COMPLY_CONFIG_DIR"):
        return Path(explicit)
    base = os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config"
    return Path(base) / "comply"


def default_key_path() -> Path:
    return config_dir() / PRIVATE_NAME


def public_der(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def public_pem(key: PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def fingerprint(key: PublicKey) -> str:
    """SHA-256 of the public key's DER SubjectPublicKeyInfo, lower-case hex (64 characters)."""
    return hashlib.sha256(public_der(key)).hexdigest()


def grouped(fp: str) -> str:
    """A fingerprint as a person reads it aloud: groups of four hex digits."""
    return " ".join(fp[i : i + 4] for i in range(0, len(fp), 4))


_SEPARATORS = re.compile(r"[\s:_-]+")


def parse_fingerprint(text: str) -> str:
    """A fingerprint as typed (any case, with separators, an optional 'SHA256:') to 64 lower-case hex."""
    value = text.strip()
    if value.upper().startswith("SHA256:"):
        value = value[7:]
    value = _SEPARATORS.sub("", value).lower()
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise UsageError(
            f"--fingerprint {text!r} is not a SHA-256 fingerprint (64 hex digits, separators allowed)"
        )
    return value


def algorithm_of(key: PublicKey) -> str:
    if isinstance(key, Ed25519PublicKey):
        return "ed25519"
    if isinstance(key, ec.EllipticCurvePublicKey) and key.curve.name in _EC_ALGORITHMS:
        return _EC_ALGORITHMS[key.curve.name]
    if isinstance(key, rsa.RSAPublicKey):
        return "rsa-pss-sha256"
    raise UsageError(
        f"unsupported signing key type {type(key).__name__}: use Ed25519, ECDSA P-256/384/521 or RSA"
    )


def _low_s(der: bytes, key: ec.EllipticCurvePublicKey) -> bytes:
    """The ECDSA signature with S in the lower half of the group, DER encoded: its one canonical form."""
    r, s = decode_dss_signature(der)
    order = _ORDERS[key.curve.name]
    return encode_dss_signature(r, min(s, order - s))


_ORDERS = {
    "secp256r1": 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    "secp384r1": int(
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973", 16
    ),
    "secp521r1": int(
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E913"
        "86409",
        16,
    ),
}


def canonical_signature(raw: bytes, key: PublicKey) -> bytes:
    """The only accepted encoding of a signature: lower-case hex (low-S DER for ECDSA), no newline."""
    if isinstance(key, ec.EllipticCurvePublicKey):
        raw = _low_s(raw, key)
    return raw.hex().encode("ascii")


def verify_signature(key: PublicKey, encoded: bytes, data: bytes) -> bool:
    """True only when `encoded` is the canonical encoding of a valid signature of data by key."""
    try:
        raw = bytes.fromhex(encoded.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return False
    try:
        if canonical_signature(raw, key) != encoded:
            return False
        if isinstance(key, Ed25519PublicKey):
            key.verify(raw, data)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(raw, data, ec.ECDSA(_CURVE_HASH[key.curve.name]()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(
                raw, data, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.AUTO), hashes.SHA256()
            )
        else:
            return False
    except (InvalidSignature, ValueError, KeyError):
        return False
    return True


class Signer(Protocol):
    """What signs: `sign` returns the canonical encoding (see canonical_signature). A signer with
    `prehash` set signs long messages through `statement`."""

    source: str
    algorithm: str
    prehash: bool

    def public_key(self) -> PublicKey: ...

    def sign(self, data: bytes) -> bytes: ...


@dataclass
class FileSigner:
    """A private key held in a PEM file (Ed25519, ECDSA or RSA)."""

    key: Any
    source: str
    prehash = False

    @property
    def algorithm(self) -> str:
        return algorithm_of(self.key.public_key())

    def public_key(self) -> PublicKey:
        return self.key.public_key()

    def sign(self, data: bytes) -> bytes:
        pub = self.key.public_key()
        if isinstance(self.key, Ed25519PrivateKey):
            raw = self.key.sign(data)
        elif isinstance(self.key, ec.EllipticCurvePrivateKey):
            raw = self.key.sign(data, ec.ECDSA(_CURVE_HASH[pub.curve.name]()))
        else:
            raw = self.key.sign(
                data, padding.PSS(padding.MGF1(hashes.SHA256()), padding.PSS.DIGEST_LENGTH), hashes.SHA256()
            )
        return canonical_signature(raw, pub)


_KMS_SIGNING = {
    "ed25519": "ED25519_SHA_512",
    "ecdsa-p256-sha256": "ECDSA_SHA_256",
    "ecdsa-p384-sha384": "ECDSA_SHA_384",
    "ecdsa-p521-sha512": "ECDSA_SHA_512",
    "rsa-pss-sha256": "RSASSA_PSS_SHA_256",
}
KMS_MAX_MESSAGE = 4096


def statement(data: bytes) -> bytes:
    """What a signer that cannot take the whole message signs instead: a short line naming its SHA-256.

    KMS signs at most 4096 raw bytes (and its DIGEST mode is not uniformly emulated), so a KMS key signs
    this statement over a manifest; the manifest says so (`signer.signs`), and the verifier rebuilds
    the statement from the manifest's bytes."""
    return b"comply-signed-sha256/1 " + hashlib.sha256(data).hexdigest().encode()


class KmsSigner:
    """An AWS KMS asymmetric SIGN_VERIFY key: the private half never leaves KMS.

    KMS signs the raw message (MessageType=RAW, at most 4096 bytes): seals and review signatures are
    short; a pack's manifest is signed through `statement`. The algorithm (ECDSA on a NIST curve,
    RSA-PSS with SHA-256, or Ed25519) is the key's and is recorded wherever the signature is kept;
    verifying needs only the public key, no AWS call.
    """

    prehash = True

    def __init__(self, arn: str, client: Any = None) -> None:
        self.arn = arn
        self.source = KMS_PREFIX + arn
        if client is None:
            import boto3

            region = arn.split(":")[3] if arn.startswith("arn:") and arn.count(":") >= 5 else None
            client = boto3.client("kms", region_name=region or None)
        self.client = client
        self._public = self._fetch_public()
        self.algorithm = algorithm_of(self._public)

    def _fetch_public(self) -> PublicKey:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            answer = self.client.get_public_key(KeyId=self.arn)
        except ClientError as exc:
            err = exc.response.get("Error", {})
            raise UsageError(
                f"KMS key {self.arn}: {err.get('Code', 'error')}: {err.get('Message', '')}"
            ) from None
        except BotoCoreError as exc:
            raise UsageError(f"KMS key {self.arn}: {exc}") from None
        if answer.get("KeyUsage") != "SIGN_VERIFY":
            raise UsageError(f"KMS key {self.arn} is not a SIGN_VERIFY key")
        key = serialization.load_der_public_key(answer["PublicKey"])
        return key  # type: ignore[return-value]

    def public_key(self) -> PublicKey:
        return self._public

    def sign(self, data: bytes) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        if len(data) > KMS_MAX_MESSAGE:
            raise UsageError(f"KMS signs at most {KMS_MAX_MESSAGE} bytes; sign a statement of the digest")
        try:
            answer = self.client.sign(
                KeyId=self.arn, Message=data, MessageType="RAW", SigningAlgorithm=_KMS_SIGNING[self.algorithm]
            )
        except (ClientError, BotoCoreError) as exc:
            raise UsageError(f"KMS key {self.arn} could not sign: {exc}") from None
        return canonical_signature(answer["Signature"], self._public)


def generate(path: Path) -> Ed25519PrivateKey:
    """A new key written to path (0600) and its public half to signing-key.pub beside it."""
    key = Ed25519PrivateKey.generate()
    path.parent.mkdir(parents=True, exist_ok=True)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    (path.parent / PUBLIC_NAME).write_bytes(public_pem(key.public_key()))
    return key


def load_private(path: Path) -> Any:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise UsageError(f"cannot read signing key {path}: {exc.strerror}") from None
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise UsageError(f"{path} is not an unencrypted PEM private key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise UsageError(f"{path} is not an Ed25519, ECDSA or RSA key")
    algorithm_of(key.public_key())
    return key


def load_public(path: Path) -> PublicKey:
    try:
        key = serialization.load_pem_public_key(path.read_bytes())
    except OSError as exc:
        raise UsageError(f"cannot read public key {path}: {exc.strerror}") from None
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise UsageError(f"{path} is not a PEM public key: {exc}") from None
    algorithm_of(key)  # type: ignore[arg-type]
    return key  # type: ignore[return-value]


def public_from_pem(pem: str | bytes) -> PublicKey | None:
    """A public key from PEM text carried in a manifest or seal, or None when it is not one."""
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
        algorithm_of(key)  # type: ignore[arg-type]
    except (ValueError, UnsupportedAlgorithm, UsageError, TypeError):
        return None
    return key  # type: ignore[return-value]


def configured_spec(spec: str | Path | None = None) -> str | None:
    """The signing key the user or organisation named (`--signing-key`, else $COMPLY_SIGNING_KEY)."""
    if spec is not None and str(spec).strip():
        return str(spec)
    return os.environ.get(ENV_KEY) or None


def _default_signer(create: bool) -> FileSigner:
    path = default_key_path()
    if path.exists():
        return FileSigner(load_private(path), str(path))
    if (path.parent / PUBLIC_NAME).exists():
        raise UsageError(
            f"signing key {path} is missing but its public half {path.parent / PUBLIC_NAME} "
            "is there: restore the key, or pass --signing-key; comply will not silently make "
            "a new one"
        )
    if not create:
        raise UsageError(
            f"no signing key: pass --signing-key, set {ENV_KEY}, or create one with "
            "`comply evidence key --generate`"
        )
    key = generate(path)
    import sys

    print(
        f"comply: generated a new signing key {path} (fingerprint {fingerprint(key.public_key())})",
        file=sys.stderr,
    )
    return FileSigner(key, str(path))


def signer(spec: str | Path | None = None, *, create: bool = True, kms_client: Any = None) -> Signer:
    """The signer the user or organisation configured; the default file key is created on first use."""
    chosen = configured_spec(spec)
    if chosen is None:
        return _default_signer(create)
    if chosen.startswith(KMS_PREFIX):
        arn = chosen[len(KMS_PREFIX) :].strip()
        if not arn:
            raise UsageError("--signing-key kms: needs a key ARN or id after 'kms:'")
        return KmsSigner(arn, kms_client)
    path = Path(chosen).expanduser()
    if not path.is_file():
        raise UsageError(f"signing key {path} not found")
    return FileSigner(load_private(path), str(path))


def signing_key(path: Path | None = None) -> Any:
    """The private key of a file signer (kept for callers that need the key object itself)."""
    found = signer(path)
    if not isinstance(found, FileSigner):
        raise UsageError("this operation needs a file key, not a KMS key")
    return found.key
