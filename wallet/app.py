"""The Flask application factory and the request pipeline every route goes through."""

from __future__ import annotations

import logging
import math
import secrets
import time
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from werkzeug.exceptions import HTTPException

from wallet import audit, logs
from wallet.acquirer import Acquirer
from wallet.audit import APPENDED
from wallet.auth import AuthError, Principal, verify_token
from wallet.config import Config
from wallet.db import admin_session, run_in_transaction, tenant_session
from wallet.guards import add_security_headers
from wallet.hosts import BadHost, normalise_host
from wallet.ledger import LedgerError
from wallet.problems import ApiError, problem, unauthorized
from wallet.runtime import Runtime

F = TypeVar("F", bound=Callable[..., Any])


def create_app(config: Config | None = None, *, acquirer: Acquirer | None = None) -> Flask:
    config = config or Config.load()
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = config.max_body_bytes
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.extensions["wallet"] = Runtime.build(config, acquirer)
    logs.configure(config.log_level)

    from wallet.api import cards, meta, oauth, payments, wallets

    for module in (meta, oauth, wallets, cards, payments):
        app.register_blueprint(module.bp)
    app.before_request(_start)
    app.after_request(_finish)
    app.teardown_request(_close)
    app.register_error_handler(ApiError, ApiError.response)
    app.register_error_handler(LedgerError, lambda e: problem(e.status, e.title, str(e)))
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    return app


def runtime() -> Runtime:
    return current_app.extensions["wallet"]  # type: ignore[no-any-return]


def _start() -> None:
    g.started = time.perf_counter()
    g.request_id = secrets.token_hex(8)
    rt = runtime()
    try:
        g.host_tenant = rt.domains.tenant_for(normalise_host(request.host))
    except BadHost as exc:
        raise ApiError(400, "Bad request", str(exc)) from None
    if "\x00" in request.path or any("\x00" in k + v for k, v in request.args.items(multi=True)):
        raise ApiError(400, "Bad request", "NUL characters are not accepted in the path or query")
    if request.path.startswith("/v1/"):
        g.principal = _authenticate(rt)
        _throttle(rt, f"client:{g.principal.client_id}")
        g.db = tenant_session(rt.sessions, g.principal.tenant_id)
    elif request.path.startswith("/oauth/"):
        _throttle(rt, f"addr:{request.remote_addr}")
        g.db = admin_session(rt.sessions)


def _throttle(rt: Runtime, key: str) -> None:
    if (wait := rt.limiter.allow(key)) > 0:
        raise ApiError(
            429, "Too many requests", "rate limit exceeded", headers={"Retry-After": str(math.ceil(wait))}
        )


def _authenticate(rt: Runtime) -> Principal:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise _refused(rt, "a Bearer access token is required", "missing credentials")
    if (principal := rt.tokens.get(token)) is None:
        with admin_session(rt.sessions) as session:
            try:
                principal = verify_token(rt.signing, session, token, issuer=rt.config.issuer)
            except AuthError as exc:
                raise _refused(rt, str(exc), str(exc)) from None
        rt.tokens.put(token, principal)
    if g.host_tenant is not None and g.host_tenant != principal.tenant_id:
        raise _refused(
            rt,
            "this access token is not valid for this host",
            "token used on another tenant's domain",
            actor=principal.client_id,
            tenant_id=principal.tenant_id,
        )
    return principal


def _refused(
    rt: Runtime, detail: str, reason: str, actor: str = "unknown", tenant_id: str | None = None
) -> ApiError:
    """Every refused API authentication is an audit entry (PCI DSS 10.2.1.4). Unauthenticated callers are
    first held to a per-address rate, so refusals cannot flood the log faster than that."""
    _throttle(rt, f"refused:{request.remote_addr}")
    with admin_session(rt.sessions) as session:
        run_in_transaction(
            session,
            lambda s: audit.record(
                s,
                action="auth.bearer",
                actor=actor,
                subject=request.endpoint or "unknown route",
                outcome="failure",
                tenant_id=tenant_id,
                reason=reason,
                method=request.method,
                address=request.remote_addr,
            ),
        )
    rt.sealer.nudge()
    return unauthorized(detail)


def requires(scope: str) -> Callable[[F], F]:
    def decorate(view: F) -> F:
        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            if scope not in g.principal.scopes:
                raise ApiError(403, "Forbidden", f"this operation needs the {scope} scope")
            return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def _finish(response: Response) -> Response:
    response.headers["X-Request-Id"] = g.get("request_id", "")
    if logs.enabled(logging.INFO):
        principal = g.get("principal")
        logs.event(
            "request",
            method=request.method,
            path=request.path,
            status=response.status_code,
            ms=round((time.perf_counter() - g.get("started", time.perf_counter())) * 1000, 2),
            client=principal.client_id if principal else None,
            request_id=g.get("request_id"),
        )
    return add_security_headers(response)


def _close(_exc: BaseException | None) -> None:
    if (session := g.pop("db", None)) is not None:
        # A session that holds no transaction and no objects has nothing to release (a transfer on
        # PostgreSQL runs on its thread's own connection); closing it anyway cost ~3% of its CPU.
        if session.in_transaction() or len(session.identity_map):
            session.close()
        if session.info.get(APPENDED):
            runtime().sealer.nudge()


def _http_error(exc: HTTPException) -> Response:
    code = exc.code or 500
    detail = {
        404: "no such route",
        405: "method not allowed on this route",
        413: "the request body is too large",
    }.get(code, "")
    response = problem(code, exc.name, detail)
    if code == 405 and exc.get_response().headers.get("Allow"):
        response.headers["Allow"] = exc.get_response().headers["Allow"]
    return response


def _unexpected(exc: Exception) -> Response:
    logging.getLogger(logs.LOGGER).error(
        "unhandled error", exc_info=exc, extra={"fields": {"request_id": g.get("request_id")}}
    )
    return problem(
        500,
        "Internal error",
        "the request failed; quote the request id to support",
        request_id=g.get("request_id"),
    )
