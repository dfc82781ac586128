"""Bad input to `comply scan web` is one clear line and exit 2, before any probe; trouble during the
scan (a timeout, a refused connection) is an ERROR finding with the reason."""

from __future__ import annotations

import socket

import pytest

from compliance.engine import run_scan
from compliance.findings import Status
from compliance.targets.web import WebTarget
from tests.web.broken_app import SLOW_SECONDS
from tests.web.conftest import scan_web


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _one_line_exit_2(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("comply: error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_unreachable_url(tmp_path):
    port = _closed_port()
    result, _, _ = scan_web(tmp_path, "--url", f"https://127.0.0.1:{port}")
    _one_line_exit_2(result, f"cannot reach https://127.0.0.1:{port}/openapi.json", "ConnectionRefused")


@pytest.mark.parametrize("url", ["ftp://example.test", "not a url", "https://", "https://h:99999",
                                 "https://h/?q=1"])
def test_url_that_is_not_an_http_url(tmp_path, url):
    result, _, _ = scan_web(tmp_path, "--url", url)
    _one_line_exit_2(result, "--url")


@pytest.mark.parametrize(("text", "fragment"), [
    ('{"paths": {}}', "no 'openapi: 3.x'"),
    ("openapi: 3.0.0\ninfo: {}\n", "no 'paths' object"),
    ('{"openapi": "3.1.0", "paths": {"/x": {"get": 5}}}', "GET /x is not an operation"),
    ('{"openapi": "3.1.0", "paths": {}}', "declares no operations"),
    ("[1, 2", "neither JSON nor YAML"),
    ("- just\n- a list\n", "not a JSON or YAML object"),
])
def test_invalid_openapi_file(tmp_path, broken_url, text, fragment):
    doc = tmp_path / "openapi.json"
    doc.write_text(text)
    result, _, _ = scan_web(tmp_path / "out", "--url", broken_url, "--openapi", str(doc))
    _one_line_exit_2(result, "OpenAPI document", fragment)


def test_missing_openapi_file_and_document_not_served(tmp_path, broken_url):
    result, _, _ = scan_web(tmp_path, "--url", broken_url, "--openapi", str(tmp_path / "nope.json"))
    _one_line_exit_2(result, "cannot read OpenAPI document")
    result, _, _ = scan_web(tmp_path, "--url", broken_url + "/nowhere")
    _one_line_exit_2(result, "answered HTTP 404", "--openapi")


@pytest.mark.parametrize(("text", "fragment"), [
    ("name: a\nbearer: b\n", "expected a YAML list of clients"),
    ("- just-a-string\n", "client 1 is not a mapping"),
    ("- {name: a, token: b}\n", "client 1 has keys ['name', 'token']"),
    ("- {name: a, bearer: ''}\n", "non-empty string"),
    ("- {name: a, bearer: x}\n- {name: a, bearer: y}\n", "used twice"),
    ("- {name: a, bearer: [x]\n", "not valid YAML"),
])
def test_credentials_file_with_the_wrong_shape(tmp_path, broken_url, text, fragment):
    creds = tmp_path / "clients.yaml"
    creds.write_text(text)
    result, _, _ = scan_web(tmp_path / "out", "--url", broken_url, "--credentials", str(creds))
    _one_line_exit_2(result, "credentials file", fragment)


def test_client_whose_token_request_fails(tmp_path, broken_url):
    creds = tmp_path / "clients.yaml"
    creds.write_text("- {name: a, token_url: /oauth/token, client_id: x, client_secret: not-so-secret}\n")
    result, _, _ = scan_web(tmp_path / "out", "--url", broken_url, "--credentials", str(creds))
    _one_line_exit_2(result, "client 'a' could not obtain a token", "HTTP 401")
    assert "not-so-secret" not in result.output


def test_self_signed_server_without_ca_file(tmp_path, wallet_served):
    result, _, _ = scan_web(tmp_path, "--url", wallet_served.url)
    _one_line_exit_2(result, "TLSError", "--ca-file")


def test_timeouts_during_the_scan_are_error_findings(broken_url):
    target = WebTarget(url=broken_url, timeout=SLOW_SECONDS / 4, max_requests=200)
    scan = run_scan([target])
    slow = [f for f in scan.findings if f.resource_id == f"GET {broken_url}/slow"]
    assert slow and all(f.status is Status.ERROR for f in slow if f.check_id != "web.auth.required")
    assert any("Timeout" in f.reason for f in slow), [f.reason for f in slow]


def test_budget_exhaustion_is_an_error_not_a_pass(broken_url):
    scan = run_scan([WebTarget(url=broken_url, max_requests=3)])
    assert scan.scope["requests_sent"] == 3
    auth = [f for f in scan.findings if f.check_id == "web.auth.required"]
    assert auth and all(f.status is Status.ERROR and "BudgetExhausted" in f.reason for f in auth)
