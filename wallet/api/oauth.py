"""POST /oauth/token: the client-credentials grant."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Blueprint, Response, g, jsonify, request

from wallet import audit, throttle
from wallet.app import runtime
from wallet.auth import check_secret, issue_token, parse_scopes
from wallet.cards import has_card_number
from wallet.db import run_in_transaction
from wallet.models import Client
from wallet.problems import ApiError, unauthorized

bp = Blueprint("oauth", __name__)
BEARER = "Bearer"
_SAFE_ID = re.compile(r"[A-Za-z0-9_-]{1,40}", re.ASCII)


def safe_actor(client_id: str) -> str | None:
    """A client id fit to be written down (audit log, throttle key): short, plain, and no card number."""
    return client_id if _SAFE_ID.fullmatch(client_id) and not has_card_number(client_id) else None


def _audit_failure(client_id: str, tenant_id: str | None, reason: str) -> None:
    actor = safe_actor(client_id) or "unknown"
    run_in_transaction(
        g.db,
        lambda s: audit.record(
            s,
            action="auth.token",
            actor=actor,
            subject=actor,
            outcome="failure",
            tenant_id=tenant_id,
            reason=reason,
            address=request.remote_addr,
        ),
    )


def _refuse(client_id: str, tenant_id: str | None, reason: str) -> ApiError:
    _audit_failure(client_id, tenant_id, reason)
    return unauthorized("client authentication failed", scheme="Basic", error="invalid_client")


@bp.post("/oauth/token")
def token() -> Response:
    if request.form.get("grant_type") != "client_credentials":
        raise ApiError(
            400, "Bad request", "grant_type must be client_credentials", error="unsupported_grant_type"
        )
    rt, session = runtime(), g.db
    creds = request.authorization
    basic = creds is not None and creds.type == "basic"
    username = (creds.username or "") if basic and creds is not None else ""
    addr_key = f"addr:{request.remote_addr or 'unknown'}"
    client_key = f"client:{actor}" if (actor := safe_actor(username)) else None
    policy = throttle.Policy(rt.config.auth_max_failures, timedelta(seconds=rt.config.auth_lockout_seconds))
    try:
        throttle.charge(session, [addr_key, *([client_key] if client_key else [])], policy)
    except throttle.LockedOut as locked:
        _audit_failure(username, None, f"locked out ({locked.key.partition(':')[0]})")
        raise ApiError(
            429,
            "Too many requests",
            "too many failed authentications; try again later",
            headers={"Retry-After": str(locked.retry_after)},
            error="invalid_client",
        ) from None
    if creds is None or not basic or not creds.username or not creds.password:
        _audit_failure(username, None, "missing credentials")
        raise unauthorized(
            "send the client id and secret with HTTP Basic", scheme="Basic", error="invalid_client"
        )
    client = session.get(Client, creds.username) if client_key else None
    known = check_secret(creds.password, client.secret_hash if client else None)
    if client is None or not client.active or not known:
        raise _refuse(creds.username, client.tenant_id if client else None, "bad credentials")
    if g.host_tenant is not None and g.host_tenant != client.tenant_id:
        raise _refuse(client.id, client.tenant_id, "client used on another tenant's domain")
    throttle.succeeded(session, f"client:{client.id}", [addr_key])
    granted = tuple(client.scopes.split())
    if wanted := request.form.get("scope"):
        try:
            asked = parse_scopes(wanted)
        except ValueError as exc:
            raise ApiError(400, "Bad request", str(exc), error="invalid_scope") from None
        if not set(asked) <= set(granted):
            raise ApiError(
                400, "Bad request", "scope exceeds what this client was granted", error="invalid_scope"
            )
        granted = asked
    access = issue_token(
        rt.signing,
        session,
        issuer=rt.config.issuer,
        ttl=rt.config.token_ttl,
        client_id=client.id,
        tenant_id=client.tenant_id,
        scopes=granted,
    )
    run_in_transaction(
        session,
        lambda s: audit.record(
            s,
            action="auth.token",
            actor=client.id,
            subject=client.id,
            tenant_id=client.tenant_id,
            scope=" ".join(granted),
        ),
    )
    return jsonify(
        {
            "access_token": access,
            "token_type": BEARER,
            "expires_in": rt.config.token_ttl,
            "scope": " ".join(granted),
        }
    )
