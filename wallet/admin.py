"""Operator actions behind `wallet tenant|client|keys|audit`: each one audited."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from wallet import audit
from wallet.auth import SCOPES, hash_secret, new_secret, parse_scopes
from wallet.cards import has_card_number
from wallet.keys import KeyEncryptionKey, create_signing_key
from wallet.models import Client, Tenant

_LABEL = r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*")
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _.-]{0,99}")


class AdminError(ValueError):
    """An operator request that cannot be carried out; the message says why in one line."""


@dataclass(frozen=True)
class Credentials:
    tenant_id: str
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]


def create_tenant(session: Session, name: str, domain: str) -> Credentials:
    domain = domain.lower().rstrip(".")
    if not _NAME.fullmatch(name):
        raise AdminError("tenant name must be 1-100 letters, digits, spaces or ._-")
    if not _HOST.fullmatch(domain):
        raise AdminError(f"{domain!r} is not a valid host name")
    if has_card_number(name) or has_card_number(domain):
        raise AdminError("a tenant's name and domain must not contain a card number")
    tenant = Tenant(name=name, domain=domain)
    session.add(tenant)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AdminError("a tenant with this name or domain already exists") from None
    audit.record(
        session,
        action="tenant.create",
        actor="operator",
        subject=tenant.id,
        tenant_id=tenant.id,
        domain=domain,
    )
    return _new_client(session, tenant.id, SCOPES)


def create_client(session: Session, tenant: str, scopes: str) -> Credentials:
    row = session.scalars(select(Tenant).where(or_(Tenant.id == tenant, Tenant.name == tenant))).first()
    if row is None:
        raise AdminError(f"no tenant with id or name {tenant!r}")
    try:
        wanted = parse_scopes(scopes)
    except ValueError as exc:
        raise AdminError(str(exc)) from None
    return _new_client(session, row.id, wanted)


def _new_client(session: Session, tenant_id: str, scopes: tuple[str, ...]) -> Credentials:
    secret = new_secret()
    client = Client(
        tenant_id=tenant_id, secret_hash=hash_secret(secret), scopes=" ".join(scopes), active=True
    )
    session.add(client)
    session.flush()
    audit.record(
        session,
        action="client.create",
        actor="operator",
        subject=client.id,
        tenant_id=tenant_id,
        scopes=client.scopes,
    )
    return Credentials(tenant_id, client.id, secret, scopes)


def rotate_signing_key(session: Session, kek: KeyEncryptionKey) -> str:
    key = create_signing_key(session, kek)
    audit.record(session, action="key.rotate", actor="operator", subject=key.kid, key_source=kek.source)
    return key.kid
