"""The TLS survey against real servers on 127.0.0.1: OpenSSL ones for TLS 1.0-1.3 and a hand-written
legacy one for what no OpenSSL here can serve any more (SSL 3.0 with RC4); then the checks on its record."""

from __future__ import annotations

import contextlib
import datetime as dt
import ipaddress
import socket
import socketserver
import ssl
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from compliance.collect.web import tls_hello as hello
from compliance.collect.web.tls import scan_tls
from compliance.findings import Status
from controls.registry import get_check
from controls.web.inventory import WebInventory

ORIGIN = "https://127.0.0.1"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=90))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                       serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return folder / "cert.pem", folder / "key.pem"


def serve(handle: Callable[[socket.socket], None]) -> Iterator[int]:
    class Handler(socketserver.BaseRequestHandler):
        def handle(self) -> None:
            with contextlib.suppress(Exception):  # a probe hanging up mid-handshake is the normal case
                handle(self.request)

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def openssl_server(certificate: tuple[Path, Path], lowest: ssl.TLSVersion, ciphers: str,
                   highest: ssl.TLSVersion = ssl.TLSVersion.MAXIMUM_SUPPORTED) -> Iterator[int]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLS 1.0 is the point of the legacy server
        context.minimum_version, context.maximum_version = lowest, highest
    context.set_ciphers(ciphers)

    def handshake(sock: socket.socket) -> None:
        with context.wrap_socket(sock, server_side=True) as tls:
            tls.recv(1)
    yield from serve(handshake)


@pytest.fixture(scope="module")
def modern(certificate):
    yield from openssl_server(certificate, ssl.TLSVersion.TLSv1_2, "ECDHE+AESGCM:ECDHE+CHACHA20")


@pytest.fixture(scope="module")
def legacy(certificate):
    yield from openssl_server(certificate, ssl.TLSVersion.TLSv1,
                              "AES128-SHA:ECDHE-RSA-AES256-SHA:@SECLEVEL=0", ssl.TLSVersion.TLSv1_2)


RC4 = 0x0005  # TLS_RSA_WITH_RC4_128_SHA


def _offered(client_hello: bytes) -> tuple[int, list[int]]:
    body = client_hello[9:]
    version = int.from_bytes(body[0:2], "big")
    at = 34 + 1 + body[34]
    length = int.from_bytes(body[at:at + 2], "big")
    suites = [int.from_bytes(body[i:i + 2], "big") for i in range(at + 2, at + 2 + length, 2)]
    return version, suites


def ssl3_server(sock: socket.socket) -> None:
    """Speaks only SSL 3.0 and only RC4: it answers a ClientHello and hangs up, as far as a survey goes."""
    version, suites = _offered(sock.recv(4096))
    if version != hello.SSL3 or RC4 not in suites:
        sock.sendall(bytes([21, 3, 0, 0, 2, 2, 40]))  # fatal handshake_failure
        return
    body = hello.SSL3.to_bytes(2, "big") + bytes(32) + b"\x00" + RC4.to_bytes(2, "big") + b"\x00"
    message = bytes([2]) + len(body).to_bytes(3, "big") + body
    sock.sendall(bytes([22, 3, 0]) + len(message).to_bytes(2, "big") + message)


@pytest.fixture(scope="module")
def ancient():
    yield from serve(ssl3_server)


@pytest.fixture(scope="module")
def silent():
    yield from serve(lambda sock: sock.recv(4096) and threading.Event().wait(5))


def run(check_id: str, record) -> list[tuple[Status, str]]:
    return [(f.status, f.reason) for f in get_check(check_id).run(WebInventory(ORIGIN, [record]))]


def test_modern_server_offers_only_tls12_and_13_aead(modern, certificate):
    record = scan_tls(ORIGIN, "127.0.0.1", modern, timeout=5, ca_file=certificate[0])
    protocols = record.response["protocols"]
    assert [p for p, r in protocols.items() if r["accepted"]] == ["TLS 1.2", "TLS 1.3"]
    assert set(protocols["TLS 1.2"]["accepted"]) == {
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384", "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"}
    assert "TLS_AES_256_GCM_SHA384" in protocols["TLS 1.3"]["accepted"]
    cert = record.response["certificate"]
    assert cert["self_signed"] and cert["hostname_matches"] and cert["chain_length"] == 1
    assert cert["trust_stores"]["--ca-file cert.pem"] is None
    assert cert["trust_stores"]["Mozilla (certifi)"]  # not trusted there: the reason is recorded
    assert run("web.tls.protocols", record) == [(Status.PASS, "accepts only TLS 1.2 and TLS 1.3")]
    assert run("web.tls.cipher_suites", record)[0][0] is Status.PASS
    assert run("web.tls.certificate_trusted", record)[0][0] is Status.FAIL  # self-signed


def test_legacy_server_fails_on_protocol_and_suites(legacy):
    record = scan_tls(ORIGIN, "127.0.0.1", legacy, timeout=5)
    protocols = record.response["protocols"]
    assert protocols["TLS 1.0"]["accepted"] == protocols["TLS 1.1"]["accepted"] != []
    assert set(protocols["TLS 1.0"]["accepted"]) == {"TLS_RSA_WITH_AES_128_CBC_SHA",
                                                     "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"}
    assert protocols["TLS 1.3"] == {"accepted": []}
    [(status, reason)] = run("web.tls.protocols", record)
    assert status is Status.FAIL and "TLS 1.0, TLS 1.1" in reason
    [(status, reason)] = run("web.tls.cipher_suites", record)
    assert status is Status.FAIL and "TLS_RSA_WITH_AES_128_CBC_SHA (TLS 1.0, no forward secrecy)" in reason


def test_suites_this_openssl_cannot_speak_are_still_found(ancient):
    record = scan_tls(ORIGIN, "127.0.0.1", ancient, timeout=5)
    protocols = record.response["protocols"]
    assert protocols["SSL 3.0"] == {"accepted": ["TLS_RSA_WITH_RC4_128_SHA"]}
    assert all(protocols[p] == {"accepted": []} for p in ("SSL 2.0", "TLS 1.0", "TLS 1.2", "TLS 1.3"))
    assert "error" in record.response["certificate"]
    [(status, reason)] = run("web.tls.protocols", record)
    assert status is Status.FAIL and "SSL 3.0" in reason
    [(status, reason)] = run("web.tls.cipher_suites", record)
    assert status is Status.FAIL and "RC4" in reason
    assert run("web.tls.certificate_validity", record)[0][0] is Status.ERROR


def test_a_server_that_never_answers_is_untested_not_passed(silent):
    record = scan_tls(ORIGIN, "127.0.0.1", silent, timeout=0.5)
    assert all("no answer within 0.5 s" in r["error"] for r in record.response["protocols"].values())
    [(status, reason)] = run("web.tls.protocols", record)
    assert status is Status.ERROR and "could not test" in reason


def test_a_closed_port_is_an_error_record():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    record = scan_tls(ORIGIN, "127.0.0.1", port, timeout=1)
    assert not record.ok and record.error_code == "TLSUnreachable"
    assert run("web.tls.protocols", record)[0][0] is Status.ERROR


def test_replies_are_read_only_when_complete():
    server_hello = bytes.fromhex("0303") + bytes(32) + b"\x00" + bytes.fromhex("c02f00")
    message = bytes([2]) + len(server_hello).to_bytes(3, "big") + server_hello
    record = bytes([22, 3, 3]) + len(message).to_bytes(2, "big") + message
    for cut in (0, 4, 7, len(record) - 1):
        assert hello.read_reply(record[:cut]) is None
    assert hello.read_reply(record) == hello.Reply("hello", version=hello.TLS12, suites=(0xC02F,))
    assert hello.read_reply(bytes([21, 3, 3, 0, 2, 2, 70])) == hello.Reply("alert", alert=70)
    assert hello.read_reply(b"HTTP/1.1 400 Bad Request\r\n").kind == "other"
    # TLS 1.3 names its version in supported_versions, behind a legacy 1.2
    extensions = (43).to_bytes(2, "big") + b"\x00\x02" + hello.TLS13.to_bytes(2, "big")
    tls13 = server_hello + len(extensions).to_bytes(2, "big") + extensions
    message = bytes([2]) + len(tls13).to_bytes(3, "big") + tls13
    then_change_cipher_spec = bytes([20, 3, 3])
    reply = hello.read_reply(bytes([22, 3, 3]) + len(message).to_bytes(2, "big") + message
                             + then_change_cipher_spec)
    assert reply is not None and reply.version == hello.TLS13


def test_ssl2_server_hello_lists_the_kinds_it_accepts():
    specs = (0x010080).to_bytes(3, "big") + (0x0700C0).to_bytes(3, "big")
    message = bytes([4, 0, 1]) + hello.SSL2.to_bytes(2, "big") + (0).to_bytes(2, "big") \
        + len(specs).to_bytes(2, "big") + (16).to_bytes(2, "big") + specs + bytes(16)
    data = (0x8000 | len(message)).to_bytes(2, "big") + message
    assert hello.read_ssl2_reply(data[:5]) is None
    assert hello.read_ssl2_reply(data) == hello.Reply("hello", version=hello.SSL2,
                                                      suites=(0x010080, 0x0700C0))
    assert hello.read_ssl2_reply(bytes([21, 3, 0, 0, 2])).kind == "other"
    assert hello.ssl2_client_hello()[2] == 1
