"""The acquirer protocol, spoken by `HttpAcquirer` to the test acquirer served over HTTP, with faults."""

import ssl
import time

import pytest

from tests.wallet.acquiring import admin, charges, faults
from tests.wallet.conftest import VISA
from wallet.acquirer import (
    AcquirerRefused,
    CardData,
    Charge,
    HttpAcquirer,
    OutcomeUnknown,
    TestAcquirer,
    check_acquirer_url,
    make_acquirer,
)
from wallet.acquirer_server import AcquirerServer, Faults
from wallet.serve import self_signed

CARD = CardData(VISA, 12, 2099)


@pytest.fixture()
def server():
    served = AcquirerServer().start()
    yield served
    served.shutdown()
    served.server_close()


def test_charge_replay_void_and_search(server):
    client = HttpAcquirer(server.url, timeout=5)
    first = client.charge("key-1", 1050, "EUR", CARD, "top_1")
    assert first.approved and first.amount_minor == 1050 and first.reference == "top_1"
    again = client.charge("key-1", 1050, "EUR", CARD, "top_1")
    assert again == first  # the same key answers with the same charge (200)
    declined = client.charge("key-2", 100, "EUR", CardData("4000000000000002", 1, 2099), "top_2")
    assert declined.status == "declined" and "declined" in declined.reason
    assert client.charge("key-3", 20_000_000, "EUR", CARD, "top_3").status == "declined"
    assert client.find("top_1") == [first] and client.find("nothing") == []
    assert client.void(first.id).status == "voided"
    assert client.find("top_1")[0].status == "voided"
    with pytest.raises(AcquirerRefused):
        client.void("ch_unknown")
    assert VISA not in repr(CARD) and VISA not in str(CARD)


def test_faults_make_the_outcome_unknown(server):
    client = HttpAcquirer(server.url, timeout=0.5)
    faults(server, fail_before=1)
    with pytest.raises(OutcomeUnknown, match="503"):
        client.charge("k-before", 100, "USD", CARD, "top_b")
    assert client.find("top_b") == []  # nothing was charged
    faults(server, fail_after=1)
    with pytest.raises(OutcomeUnknown, match="no answer"):
        client.charge("k-after", 100, "USD", CARD, "top_a")
    assert len(client.find("top_a")) == 1  # charged, though the client never heard
    faults(server, slow=1, delay=1.5)
    started = time.monotonic()
    with pytest.raises(OutcomeUnknown):
        client.charge("k-slow", 100, "USD", CARD, "top_s")
    assert time.monotonic() - started < 1.4
    faults(server)
    assert client.charge("k-slow", 100, "USD", CARD, "top_s").approved  # the slow charge, replayed
    assert len([c for c in charges(server) if c["reference"] == "top_s"]) == 1


def test_admin_and_protocol_errors(server):
    assert admin(server, "faults") == {"fail_before": 0.0, "fail_after": 0.0, "slow": 0.0, "delay": 5.0}
    client = HttpAcquirer(server.url, timeout=5)
    with pytest.raises(AcquirerRefused, match="400"):
        client.charge("bad key with spaces", 100, "USD", CARD, "r")
    for bad in ({"fail_before": 2}, {"slow": -1}, {"nope": 1}, {"delay": True}):
        with pytest.raises(ValueError):
            Faults().update(bad)
    status, body = client._request("GET", "/v1/charges")
    assert status == 400 and "reference" in body["error"]
    assert client._request("GET", "/nowhere")[0] == 404
    assert client._request("POST", "/nowhere", {})[0] == 404


def test_urls_and_tls(tmp_path, server):
    assert check_acquirer_url("http://127.0.0.1:9/") == ""
    assert check_acquirer_url("http://localhost:9/") == ""
    assert check_acquirer_url("https://acquirer.example/") == ""
    assert "https" in check_acquirer_url("http://acquirer.example/")
    assert "URL" in check_acquirer_url("ftp://x/")
    with pytest.raises(ValueError, match="https"):
        make_acquirer("http", "http://10.0.0.1/")
    with pytest.raises(ValueError, match="acquirer_url"):
        make_acquirer("http")
    with pytest.raises(ValueError, match="unknown acquirer"):
        make_acquirer("visa-net")
    assert isinstance(make_acquirer("test"), TestAcquirer)
    cert, key = self_signed(tmp_path, ("localhost", "127.0.0.1"))
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain(cert, key)
    secure = AcquirerServer()
    secure.socket = tls.wrap_socket(secure.socket, server_side=True)
    secure.start()
    try:
        url = f"https://127.0.0.1:{secure.server_address[1]}"
        with pytest.raises(AcquirerRefused, match="not trusted"):
            HttpAcquirer(url, timeout=5).charge("k-tls-1", 100, "USD", CARD, "r")
        trusted = HttpAcquirer(url, timeout=5, context=ssl.create_default_context(cafile=str(cert)))
        assert trusted.charge("k-tls-2", 100, "USD", CARD, "r").approved
    finally:
        secure.shutdown()
        secure.server_close()


def test_malformed_answers_are_unknown_outcomes():
    with pytest.raises(OutcomeUnknown, match="malformed"):
        Charge.from_json({"id": "x"})
    assert Charge.from_json({"id": "x", "status": "approved", "amount": "1.00", "currency": "USD"}).approved
    with pytest.raises(OutcomeUnknown, match="no answer"):
        HttpAcquirer("http://127.0.0.1:9", timeout=1).find("r")  # nothing listens on port 9
