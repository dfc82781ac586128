"""OAuth2 client credentials: hashed client secrets and short-lived Ed25519-signed access tokens."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from functools import cache

import jwt
from sqlalchemy.orm import Session

from wallet.keys import SigningKeys

SCOPES = ("wallets:read", "wallets:write", "cards:write", "payments:write")
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}
AUDIENCE = "wallet-api"


class AuthError(Exception):
    """Authentication failed; the message is safe to show the caller."""


def parse_scopes(text: str) -> tuple[str, ...]:
    scopes = tuple(dict.fromkeys(s for s in text.replace(",", " ").split() if s))
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown or not scopes:
        raise ValueError(f"scopes must be some of: {', '.join(SCOPES)}")
    return scopes


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(secret.encode(), salt=salt, **_SCRYPT)
    return "scrypt$" + base64.b64encode(salt).decode() + "$" + base64.b64encode(digest).decode()


@cache
def _decoy() -> str:
    return hash_secret(secrets.token_urlsafe(32))


def check_secret(secret: str, stored: str | None) -> bool:
    """Constant work whether or not the client exists (`stored` None), so timing does not tell."""
    if stored is None:
        check_secret(secret, _decoy())
        return False
    try:
        scheme, salt, digest = stored.split("$")
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(secret.encode(), salt=base64.b64decode(salt), **_SCRYPT)
    except ValueError:
        return False
    return scheme == "scrypt" and hmac.compare_digest(actual, expected)


@dataclass(frozen=True)
class Principal:
    client_id: str
    tenant_id: str
    scopes: frozenset[str]
    expires: float = 0.0


class VerifiedTokens:
    """Tokens this process has already verified, kept until they expire: checking the signature and
    claims is the largest CPU cost of an API request, and a client sends the same token many times.
    Bounded; the oldest entries make room first."""

    def __init__(self, size: int = 10_000) -> None:
        self._size = size
        self._tokens: dict[str, Principal] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Principal | None:
        principal = self._tokens.get(token)
        return principal if principal is not None and time.time() < principal.expires else None

    def put(self, token: str, principal: Principal) -> None:
        with self._lock:
            while len(self._tokens) >= self._size:
                del self._tokens[next(iter(self._tokens))]
            self._tokens[token] = principal


def issue_token(
    keys: SigningKeys,
    session: Session,
    *,
    issuer: str,
    ttl: int,
    client_id: str,
    tenant_id: str,
    scopes: tuple[str, ...],
) -> str:
    kid, private = keys.active(session)
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": AUDIENCE,
        "sub": client_id,
        "tid": tenant_id,
        "scope": " ".join(scopes),
        "iat": now,
        "nbf": now,
        "exp": now + ttl,
        "jti": secrets.token_hex(12),
    }
    return jwt.encode(claims, private, algorithm="EdDSA", headers={"kid": kid})


def verify_token(keys: SigningKeys, session: Session, token: str, *, issuer: str) -> Principal:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
    except jwt.PyJWTError:
        raise AuthError("malformed access token") from None
    public = keys.public(session, kid) if isinstance(kid, str) else None
    if public is None:
        raise AuthError("access token signed by an unknown or retired key")
    try:
        claims = jwt.decode(
            token,
            public,
            algorithms=["EdDSA"],
            audience=AUDIENCE,
            issuer=issuer,
            options={"require": ["exp", "iat", "sub", "tid", "scope"]},
        )
    except jwt.ExpiredSignatureError:
        raise AuthError("access token expired") from None
    except jwt.PyJWTError:
        raise AuthError("invalid access token") from None
    return Principal(
        claims["sub"], claims["tid"], frozenset(str(claims["scope"]).split()), float(claims["exp"])
    )
