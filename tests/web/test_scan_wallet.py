"""`comply scan web` against the real wallet served by gunicorn over TLS on loopback: everything
passes except the self-signed certificate a loopback deployment inherently has."""

from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.web.conftest import scan_web


@pytest.fixture(scope="module")
def scanned(wallet_served, tmp_path_factory):
    out = tmp_path_factory.mktemp("wallet-scan")
    result, scan, _ = scan_web(out, "--url", wallet_served.url, "--ca-file", str(wallet_served.cert),
                               "--credentials", str(wallet_served.credentials))
    return result, scan


def test_the_wallet_fails_nothing_but_its_self_signed_certificate(scanned, wallet_served):
    result, scan = scanned
    assert result.exit_code == 1, result.output
    failed = [(f.check_id, f.resource_id, f.reason) for f in scan.findings if f.status is Status.FAIL]
    assert [(c, r) for c, r, _ in failed] == [("web.tls.certificate_trusted", wallet_served.url)]
    assert "self-signed" in failed[0][2]
    # GET /v1/topups/{topup_id} has no listing to learn another tenant's top-up ids from in a
    # read-only scan: honestly not assessed rather than passed
    errors = [(f.check_id, f.resource_id) for f in scan.errors()]
    assert errors in ([], [("web.isolation.cross_tenant", f"GET {wallet_served.url}/v1/topups/{{topup_id}}")])


def test_every_web_check_ran_and_isolation_was_really_tried(scanned, wallet_served):
    _, scan = scanned
    ran = {f.check_id for f in scan.findings}
    assert ran >= {"web.tls.protocols", "web.tls.cipher_suites", "web.tls.https_only", "web.auth.required",
                   "web.carddata.no_full_pan", "web.errors.no_internals", "web.errors.handled",
                   "web.headers.hsts", "web.headers.cors", "web.isolation.cross_tenant"}
    isolation = {f.resource_id: f.reason for f in scan.findings if f.check_id == "web.isolation.cross_tenant"}
    assert "answered 404" in isolation[f"GET {wallet_served.url}/v1/wallets/{{wallet_id}}"]
    auth = {f.resource_id for f in scan.findings if f.check_id == "web.auth.required"}
    assert f"GET {wallet_served.url}/v1/wallets/{{wallet_id}}/transactions" in auth
    protocols = next(f for f in scan.findings if f.check_id == "web.tls.protocols")
    assert protocols.status is Status.PASS and "TLS 1.0" not in protocols.reason


def test_allow_write_and_the_rate_limit_burst_on_the_wallet(wallet_served, tmp_path):
    """Writes, malformed bodies and the failed-login burst (sent last, with a client id that does not
    exist, so it locks out no real client): still nothing but the certificate fails."""
    result, scan, _ = scan_web(tmp_path, "--url", wallet_served.url, "--ca-file", str(wallet_served.cert),
                               "--credentials", str(wallet_served.credentials), "--allow-write",
                               "--rate-limit-burst", "12")
    assert result.exit_code == 1, result.output
    failed = [(f.check_id, f.resource_id) for f in scan.findings if f.status is Status.FAIL]
    assert failed == [("web.tls.certificate_trusted", wallet_served.url)], failed
    assert scan.scope["read_only"] is False and scan.scope["not_probed"] == []
    limit = [f for f in scan.findings if f.check_id == "web.abuse.token_rate_limit"]
    token = f"POST {wallet_served.url}/oauth/token"
    assert [(f.status, f.resource_id) for f in limit] == [(Status.PASS, token)], limit
    topups = [f for f in scan.findings if f.check_id == "web.isolation.cross_tenant"
              and f.resource_id == f"GET {wallet_served.url}/v1/topups/{{topup_id}}"]
    assert [f.status for f in topups] == [Status.PASS], topups  # created under each tenant's own wallet
    bodies = [f for f in scan.findings if f.check_id == "web.errors.handled"
              and f.resource_id == f"POST {wallet_served.url}/v1/cards"]
    assert bodies and bodies[0].status is Status.PASS
