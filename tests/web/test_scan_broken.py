"""`comply scan web` against the deliberately broken API: each flaw on its operation, mapped right,
and nothing reported that the API does not have."""

from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.web.conftest import scan_web


@pytest.fixture(scope="module")
def scanned(broken_url, tmp_path_factory):
    out = tmp_path_factory.mktemp("broken-scan")
    creds = out / "clients.yaml"
    creds.write_text("- {name: tenant-a, bearer: token-a}\n- {name: tenant-b, bearer: token-b}\n")
    result, scan, findings = scan_web(out, "--url", broken_url, "--credentials", str(creds),
                                      "--probe-rate-limit", "--rate-limit-burst", "5")
    assert result.exit_code == 1, result.output
    return broken_url, scan, findings


def _by(scan, check_id: str, status: Status) -> dict[str, str]:
    return {f.resource_id: f.reason for f in scan.findings if f.check_id == check_id and f.status is status}


FLAWS = [
    # check, operation (None: the origin), a PCI requirement it must map to
    ("web.tls.https_only", None, "4.2.1"),
    ("web.tls.protocols", None, "4.2.1"),
    ("web.headers.hsts", None, "4.2.1"),
    ("web.headers.nosniff", None, "6.4.1"),
    ("web.headers.framing", None, "6.4.1"),
    ("web.headers.version_disclosure", None, "2.2.6"),
    ("web.headers.cors", None, "2.2.6"),
    ("web.auth.required", "GET /cards/{card_id}", "8.3.1"),
    ("web.carddata.no_full_pan", "GET /cards/{card_id}", "3.4.1"),
    ("web.carddata.masking", "GET /cards", "3.4.1"),
    ("web.errors.no_internals", "GET /accounts/{account_id}", "6.2.4"),
    ("web.errors.no_internals", "GET /search", "6.2.4"),
    ("web.errors.handled", "GET /accounts/{account_id}", "6.2.4"),
    ("web.errors.handled", "GET /search", "6.2.4"),
    ("web.isolation.cross_tenant", "GET /cards/{card_id}", "A1.1.2"),
    ("web.abuse.token_rate_limit", "POST /oauth/token", "8.3.4"),
]


@pytest.mark.parametrize(("check_id", "operation", "requirement"), FLAWS)
def test_each_flaw_is_found_on_its_operation_and_mapped(scanned, check_id, operation, requirement):
    url, scan, findings = scanned
    method, _, path = (operation or "").partition(" ")
    resource = f"{method} {url}{path}" if operation else url
    assert resource in _by(scan, check_id, Status.FAIL), (check_id, _by(scan, check_id, Status.FAIL))
    ocsf = next(f for f in findings if f["metadata"]["event_code"] == check_id
                and f["resources"][0]["uid"] == resource)
    assert f"PCI DSS v4.0.1/{requirement}" in ocsf["compliance"]["requirements"]
    assert any(r.startswith("ISO/IEC 27001:2022/") for r in ocsf["compliance"]["requirements"])


def test_nothing_is_reported_that_the_api_does_not_have(scanned):
    url, scan, _ = scanned
    expected = {(c, f"{op.split()[0]} {url}{op.split()[1]}" if op else url) for c, op, _ in FLAWS}
    # without TLS the certificate and suite checks cannot pass either: the same plain-HTTP flaw
    expected |= {(c, url) for c in ("web.tls.cipher_suites", "web.tls.certificate_trusted",
                                    "web.tls.certificate_validity", "web.tls.certificate_hostname")}
    failed = {(f.check_id, f.resource_id) for f in scan.findings if f.status is Status.FAIL}
    assert failed == expected
    passed = {(f.check_id, f.resource_id) for f in scan.findings if f.status is Status.PASS}
    for check_id, op in [("web.auth.required", "GET /cards"),
                         ("web.auth.required", "GET /accounts/{account_id}"),
                         ("web.carddata.no_full_pan", "GET /accounts/{account_id}"),
                         ("web.isolation.cross_tenant", "GET /cards"),
                         ("web.errors.no_internals", "GET /health")]:
        method, path = op.split()
        assert (check_id, f"{method} {url}{path}") in passed, (check_id, op)


def test_evidence_keeps_the_exchange_but_never_the_card_number(scanned):
    _, scan, _ = scanned
    leak = next(f for f in scan.findings
                if f.check_id == "web.carddata.no_full_pan" and f.status is Status.FAIL)
    assert "411111******1111" in leak.reason and "4111111111111111" not in leak.reason
    records = scan.evidence_by_id()
    rec = records[leak.evidence_ids[0]]
    assert rec.response["status"] == 200 and "411111******1111" in rec.response["body"]
    everything = "".join(str(r.as_dict()) for r in scan.evidence)
    assert "4111111111111111" not in everything and "5555555555554444" not in everything
    assert "token-a" not in everything  # bearer tokens are masked in the recorded request headers


def test_scope_and_budget_are_recorded(scanned):
    url, scan, _ = scanned
    assert scan.target == "web" and scan.scope["url"] == url and scan.scope["read_only"] is True
    assert scan.scope["not_probed"] == ["POST /oauth/token"]
    assert 0 < scan.scope["requests_sent"] <= scan.scope["max_requests"]
    assert scan.identity["clients"] == ["tenant-a", "tenant-b"]
