"""The web checks on inventories built by hand: what a live test server here cannot show (TLS 1.0,
weak suites, expired or misnamed certificates, HSTS variants) and the pure helpers."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from compliance.collect.record import EvidenceRecord, Outcome
from compliance.collect.web.openapi import InvalidDocument, parse, token_urls
from compliance.collect.web.pan import find_card_numbers, is_pan, mask_text
from compliance.collect.web.samples import collection_of, ids_in, sample_value
from compliance.findings import Status
from controls.registry import get_check
from controls.web.inventory import WebInventory
from controls.web.tls import weak_suite

URL = "https://api.example.test"
NOW = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def tls_record(protocols: dict[str, list[str]] | None = None, **cert: Any) -> EvidenceRecord:
    names = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1", "TLS 1.2", "TLS 1.3")
    accepted: dict[str, Any] = {p: {"accepted": []} for p in names}
    accepted["TLS 1.3"] = {"accepted": ["TLS_AES_128_GCM_SHA256"]}
    accepted.update({p: {"accepted": s} for p, s in (protocols or {}).items()})
    certificate = {"subject": "CN=api.example.test", "issuer": "CN=Example CA", "self_signed": False,
                   "not_before": (NOW - dt.timedelta(days=10)).isoformat(),
                   "not_after": (NOW + dt.timedelta(days=200)).isoformat(),
                   "hostname": "api.example.test", "hostname_matches": True,
                   "subject_alt_names": ["api.example.test"], "trust_stores": {"Mozilla": None}, **cert}
    return EvidenceRecord("web", "tls", "handshake", URL, {"probe": "tls"}, NOW.isoformat(), Outcome.OK,
                          response={"protocols": accepted, "certificate": certificate,
                                    "checked_at": NOW.isoformat()})


def http_record(probe: str, operation: str = "GET /x", status: int = 200, headers: dict | None = None,
                body: str = "{}", ok: bool = True, url: str = URL + "/x", **params: Any) -> EvidenceRecord:
    if not ok:
        return EvidenceRecord("web", "http", operation, URL, {"probe": probe, "url": url, **params},
                              NOW.isoformat(), Outcome.ERROR, error_code=body, error_message="boom")
    sent = {"probe": probe, "url": url, "headers": {}, **params}
    return EvidenceRecord("web", "http", operation, URL, sent,
                          NOW.isoformat(), Outcome.OK,
                          response={"status": status, "headers": headers or {}, "body": body,
                                    "card_numbers": [], "overexposed_card_numbers": []})


DOC = EvidenceRecord("web", "openapi", "document", URL, {}, NOW.isoformat(), Outcome.OK, response={
    "openapi": "3.1.0", "paths": {"/x": {"get": {"responses": {}}}}})


def verdicts(check_id: str, *records: EvidenceRecord, **options: Any):
    inv = WebInventory(URL, [DOC, *records], options=options)
    return [(f.status, f.reason) for f in get_check(check_id).run(inv)]


@pytest.mark.parametrize(("protocols", "status", "fragment"), [
    ({}, Status.PASS, "accepts only TLS 1.3"),
    ({"TLS 1.0": ["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"]}, Status.FAIL, "accepts TLS 1.0"),
    ({"SSL 3.0": ["X"], "TLS 1.1": ["Y"]}, Status.FAIL, "accepts SSL 3.0, TLS 1.1"),
    ({"TLS 1.3": []}, Status.FAIL, "neither TLS 1.2 nor TLS 1.3"),
])
def test_protocols(protocols, status, fragment):
    [(got, reason)] = verdicts("web.tls.protocols", tls_record(protocols))
    assert got is status and fragment in reason


def test_weak_suites_fail_and_strong_ones_pass():
    weak = tls_record({"TLS 1.2": ["TLS_RSA_WITH_AES_128_GCM_SHA256", "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
                                   "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]})
    [(status, reason)] = verdicts("web.tls.cipher_suites", weak)
    assert status is Status.FAIL and "2 weak suites" in reason and "no forward secrecy" in reason
    [(status, _)] = verdicts("web.tls.cipher_suites", tls_record())
    assert status is Status.PASS
    assert weak_suite("TLS_DH_anon_WITH_AES_128_CBC_SHA") == "anon"
    assert weak_suite("TLS_CHACHA20_POLY1305_SHA256") is None


@pytest.mark.parametrize(("cert", "check", "status", "fragment"), [
    ({}, "web.tls.certificate_validity", Status.PASS, "200 days"),
    ({"not_after": (NOW - dt.timedelta(days=1)).isoformat()}, "web.tls.certificate_validity", Status.FAIL,
     "expired"),
    ({"not_after": (NOW + dt.timedelta(days=12)).isoformat()}, "web.tls.certificate_validity", Status.FAIL,
     "expires in 12 days"),
    ({"not_before": (NOW + dt.timedelta(days=1)).isoformat()}, "web.tls.certificate_validity", Status.FAIL,
     "not valid before"),
    ({"hostname_matches": False}, "web.tls.certificate_hostname", Status.FAIL, "does not name"),
    ({}, "web.tls.certificate_hostname", Status.PASS, "names api.example.test"),
    ({"self_signed": True, "trust_stores": {"Mozilla": "self signed"}}, "web.tls.certificate_trusted",
     Status.FAIL, "self-signed"),
    ({"self_signed": True, "trust_stores": {"Supplied CA file": None}}, "web.tls.certificate_trusted",
     Status.FAIL, "only through --ca-file"),
    ({"trust_stores": {"Mozilla": "unable to get issuer"}}, "web.tls.certificate_trusted", Status.FAIL,
     "not trusted"),
    ({}, "web.tls.certificate_trusted", Status.PASS, "trusted by Mozilla"),
])
def test_certificate(cert, check, status, fragment):
    [(got, reason)] = verdicts(check, tls_record(**cert))
    assert got is status and fragment in reason, reason


def test_tls_unreadable_is_an_error():
    rec = EvidenceRecord("web", "tls", "handshake", URL, {}, NOW.isoformat(), Outcome.ERROR,
                         error_code="TLSUnreachable", error_message="refused")
    for check in ("web.tls.protocols", "web.tls.cipher_suites", "web.tls.certificate_trusted"):
        [(status, reason)] = verdicts(check, rec)
        assert status is Status.ERROR and "TLSUnreachable" in reason
    [(status, _)] = verdicts("web.tls.protocols")
    assert status is Status.ERROR


@pytest.mark.parametrize(("record", "status"), [
    (http_record("plain-http", "transport", 301, {"location": "https://api.example.test/"}), Status.PASS),
    (http_record("plain-http", "transport", 400), Status.PASS),
    (http_record("plain-http", "transport", body="ConnectionRefused", ok=False), Status.PASS),
    (http_record("plain-http", "transport", 200), Status.FAIL),
    (http_record("plain-http", "transport", 302, {"location": "http://elsewhere/"}), Status.FAIL),
    (http_record("plain-http", "transport", body="Timeout", ok=False), Status.ERROR),
])
def test_https_only(record, status):
    [(got, _)] = verdicts("web.tls.https_only", record)
    assert got is status


@pytest.mark.parametrize(("value", "status"), [
    ("max-age=31536000; includeSubDomains", Status.PASS),
    ("max-age=300", Status.FAIL),
    ("includeSubDomains", Status.FAIL),
    (None, Status.FAIL),
])
def test_hsts(value, status):
    headers = {"strict-transport-security": value} if value else {}
    [(got, _)] = verdicts("web.headers.hsts", http_record("anonymous", headers=headers))
    assert got is status


def test_framing_accepts_csp_frame_ancestors_and_disclosure_only_versions():
    csp = {"content-security-policy": "default-src 'none'; frame-ancestors 'none'"}
    assert verdicts("web.headers.framing", http_record("anonymous", headers=csp))[0][0] is Status.PASS
    assert verdicts("web.headers.version_disclosure", http_record("anonymous", headers={
        "server": "gunicorn"}))[0][0] is Status.PASS
    [(status, reason)] = verdicts("web.headers.version_disclosure", http_record("anonymous", headers={
        "server": "nginx/1.25.3", "x-powered-by": "Express"}))
    assert status is Status.FAIL and "nginx/1.25.3" in reason and "Express" in reason


def test_rate_limit_outcomes():
    burst = [http_record("rate-limit", "POST /oauth/token", 401, attempt=n) for n in (1, 2, 3)]
    [(status, reason)] = verdicts("web.abuse.token_rate_limit", *burst, web_probe_rate_limit=True)
    assert status is Status.FAIL and "none answered 429" in reason
    limited = [*burst[:2], http_record("rate-limit", "POST /oauth/token", 429, attempt=3)]
    [(status, reason)] = verdicts("web.abuse.token_rate_limit", *limited)
    assert status is Status.PASS and "after 2 failed attempts" in reason
    assert verdicts("web.abuse.token_rate_limit") == []
    [(status, _)] = verdicts("web.abuse.token_rate_limit", web_allow_write=True)
    assert status is Status.ERROR


def test_card_numbers_are_found_masked_and_judged():
    found = find_card_numbers("pan 4111 1111 1111 1111, shown 411111******1111 or 4111111111**1111, "
                              "id 1764555383000 and 4111111111111112")
    assert found.full == ("411111******1111",)
    assert found.overexposed == ("4111111111**1111",)
    assert mask_text("x=378282246310005;") == "x=378282*****0005;"
    assert is_pan("5555555555554444") and not is_pan("1234567812345670")


def test_openapi_parsing():
    doc = {"swagger": "2.0", "security": [{"key": []}], "securityDefinitions": {
        "o": {"type": "oauth2", "tokenUrl": "https://api.example.test/token"}},
        "parameters": {"Id": {"name": "id", "in": "path", "required": True, "type": "integer"}},
        "paths": {"/things/{id}": {"parameters": [{"$ref": "#/parameters/Id"}],
                                   "get": {"security": [{}]},
                                   "delete": {},
                                   "put": {"parameters": [{"name": "b", "in": "body", "schema": {
                                       "type": "object", "required": ["n"],
                                       "properties": {"n": {"type": "integer", "minimum": 3}}}}]}}}}
    get, put, delete = parse(doc)
    assert (get.key, get.secured, delete.secured, put.writes) == ("GET /things/{id}", False, True, True)
    assert get.path_params()[0].schema == {"type": "integer"}
    assert sample_value(put.body_schema) == {"n": 3}
    assert collection_of(get) == ("/things", "id")
    assert token_urls(doc, URL + "/") == ["https://api.example.test/token"]
    with pytest.raises(InvalidDocument, match="security must be a list"):
        parse({"openapi": "3.0.0", "paths": {"/x": {"get": {"security": {}}}}})
    with pytest.raises(InvalidDocument, match="lacks its name"):
        parse({"openapi": "3.0.0", "paths": {"/x": {"get": {"parameters": [{"in": "query"}]}}}})


def test_sample_values_and_ids():
    assert sample_value({"type": "string", "pattern": "^[A-Z]{3}$"}) == "USD"
    assert sample_value({"type": "string", "pattern": r"^\d{12,19}$"}, "pan") == "4111111111111111"
    assert sample_value({"type": ["string", "null"], "examples": ["12.50"]}) == "12.50"
    assert sample_value({"type": "integer"}, "expiry_month") == 12
    assert ids_in('{"data": [{"id": "a"}, {"id": 2}, {"id": true}]}') == ["a", "2"]
    assert ids_in('{"id": "w1"}') == ["w1"] and ids_in("not json") == [] and ids_in("3") == []


def test_every_web_check_maps_to_pci_with_a_reason_and_to_iso():
    from compliance.frameworks import load
    from controls.registry import all_checks

    pci, iso = load("pci-dss-4.0.1"), load("iso27001-2022")
    for item in all_checks("web"):
        pci_reqs = [r for r in pci.requirements if item.id in r.checks]
        assert pci_reqs and any(item.id in r.checks for r in iso.requirements), item.id
        for req in pci_reqs:
            why = req.reason(item.id)
            assert why and "\n" not in why and len(why) <= 140, (req.id, item.id)


def test_digits_inside_a_random_hex_id_are_not_a_card_number():
    from compliance.collect.web.pan import find_card_numbers

    assert find_card_numbers('{"id": "wal_9f4319348271234567893585b1"}').full == ()
    assert find_card_numbers('{"pan": "4111111111111111", "ref": "card_4111111111111111"}').full == (
        "411111******1111",)
