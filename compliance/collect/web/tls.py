"""The TLS side of a web target: protocol versions, cipher suites and the served certificate.

Versions and suites are surveyed with hand-built ClientHellos (compliance.collect.web.tls_hello):
offer a set, note the suite the server picks, take it out, offer again, until the server refuses.
That needs no legacy-capable TLS library, so SSL 2.0/3.0, TLS 1.0/1.1 and RC4/DES/export suites are
asked about even though this machine's OpenSSL will not speak them. The certificate comes from one
real handshake through the standard library, its trust from a verifying one. One evidence record
holds the whole answer as plain data.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from compliance.collect.record import EvidenceRecord, Outcome, utcnow
from compliance.collect.web import tls_hello as hello
from compliance.collect.web.cipher_suites import LEGACY_SUITES, TLS13_SUITES

PROTOCOLS: dict[str, int] = {"SSL 2.0": hello.SSL2, "SSL 3.0": hello.SSL3, "TLS 1.0": hello.TLS10,
                             "TLS 1.1": hello.TLS11, "TLS 1.2": hello.TLS12, "TLS 1.3": hello.TLS13}


def hostname_matches(cert: x509.Certificate, host: str) -> bool:
    """RFC 6125 matching on the subjectAltName: exact names, one left-most wildcard label, IPs."""
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    if address is not None:
        return address in san.get_values_for_type(x509.IPAddress)
    host = host.rstrip(".").lower()
    for name in san.get_values_for_type(x509.DNSName):
        name = name.rstrip(".").lower()
        if name == host:
            return True
        if name.startswith("*.") and "." in host and host.split(".", 1)[1] == name[2:]:
            return True
    return False


def _self_signed(cert: x509.Certificate) -> bool:
    if cert.issuer != cert.subject:
        return False
    try:
        cert.verify_directly_issued_by(cert)
    except Exception:  # a different key with the same name: not self-signed, just badly named
        return False
    return True


def certificate_facts(chain: list[x509.Certificate], host: str, validations: dict[str, str | None],
                      custom_ca: str | None) -> dict[str, Any]:
    """What the checks need to know about the served certificate, as plain data."""
    leaf = chain[0]
    try:
        san = [str(getattr(v, "value", v)) for v in leaf.extensions.get_extension_for_class(
            x509.SubjectAlternativeName).value]
    except x509.ExtensionNotFound:
        san = []
    return {
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "serial": format(leaf.serial_number, "x"),
        "sha256": leaf.fingerprint(hashes.SHA256()).hex(),
        "not_before": leaf.not_valid_before_utc.isoformat(),
        "not_after": leaf.not_valid_after_utc.isoformat(),
        "subject_alt_names": san,
        "chain_length": len(chain),
        "self_signed": _self_signed(leaf),
        "hostname": host,
        "hostname_matches": hostname_matches(leaf, host),
        "trust_stores": validations,
        "custom_ca_file": custom_ca,
    }


def _ask(host: str, port: int, payload: bytes, read: Callable[[bytes], hello.Reply | None],
         timeout: float) -> hello.Reply:
    """Send one hello on a fresh connection and read the first answer; a closed connection refuses."""
    deadline = time.monotonic() + timeout
    data = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(payload)
            while (reply := read(data)) is None:
                sock.settimeout(max(0.05, deadline - time.monotonic()))
                chunk = sock.recv(16384)
                if not chunk:
                    return hello.Reply("other")
                data += chunk
    except (ConnectionResetError, ConnectionAbortedError, BrokenPipeError):
        return hello.Reply("other")
    return reply


def accepted_suites(host: str, port: int, version: int, timeout: float) -> list[str]:
    """Every suite the server accepts at `version`, in the order it prefers them."""
    sni = None if _is_ip(host) else host
    if version == hello.SSL2:
        reply = _ask(host, port, hello.ssl2_client_hello(), hello.read_ssl2_reply, timeout)
        if reply.kind != "hello" or reply.version != hello.SSL2:
            return []
        return [hello.SSL2_SUITES[code] for code in reply.suites if code in hello.SSL2_SUITES]
    offer = dict(TLS13_SUITES if version == hello.TLS13 else LEGACY_SUITES)
    accepted: list[str] = []
    while offer:
        reply = _ask(host, port, hello.client_hello(version, offer, sni), hello.read_reply, timeout)
        if reply.kind != "hello" or reply.version != version or reply.suites[0] not in offer:
            break
        accepted.append(offer.pop(reply.suites[0]))
    return accepted


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _survey(host: str, port: int, version: int, timeout: float) -> dict[str, Any]:
    try:
        return {"accepted": accepted_suites(host, port, version, timeout)}
    except TimeoutError:
        return {"error": f"no answer within {timeout:g} s"}
    except OSError as exc:
        return {"error": f"{type(exc).__name__}: {exc}"[:200]}


def _client_context(ca_file: Path | None, verify: bool) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.set_ciphers("ALL:@SECLEVEL=0")
    context.check_hostname = False  # the hostname is a check of its own, not a reason to see nothing
    if not verify:
        context.verify_mode = ssl.CERT_NONE
    elif ca_file is not None:
        context.load_verify_locations(cafile=str(ca_file))
    else:
        import certifi
        context.load_verify_locations(cafile=certifi.where())
    return context


def _handshake(host: str, port: int, timeout: float, context: ssl.SSLContext) -> list[bytes]:
    with socket.create_connection((host, port), timeout=timeout) as raw, \
            context.wrap_socket(raw, server_hostname=None if _is_ip(host) else host) as tls:
        chain = getattr(tls._sslobj, "get_unverified_chain", None)  # the whole chain: private API on 3.11
        if chain is not None:
            return [cert.public_bytes(ssl._ssl.ENCODING_DER) for cert in chain()]  # type: ignore[attr-defined]
        leaf = tls.getpeercert(binary_form=True)
        return [leaf] if leaf else []


def _validation(host: str, port: int, timeout: float, ca_file: Path | None) -> str | None:
    try:
        _handshake(host, port, timeout, _client_context(ca_file, verify=True))
    except ssl.SSLCertVerificationError as exc:
        return str(exc.verify_message or exc)[:200]
    except (OSError, ssl.SSLError) as exc:
        return f"verifying handshake failed: {exc}"[:200]
    return None


def _certificate(host: str, port: int, timeout: float, ca_file: Path | None) -> dict[str, Any]:
    try:
        der = _handshake(host, port, timeout, _client_context(None, verify=False))
    except (OSError, ssl.SSLError) as exc:
        return {"error": f"no certificate: {exc}"[:200]}
    if not der:
        return {"error": "the server sent no certificate"}
    validations = {"Mozilla (certifi)": _validation(host, port, timeout, None)}
    if ca_file is not None:
        validations[f"--ca-file {ca_file.name}"] = _validation(host, port, timeout, ca_file)
    return certificate_facts([x509.load_der_x509_certificate(d) for d in der], host, validations,
                             str(ca_file) if ca_file else None)


def scan_tls(origin: str, host: str, port: int, *, timeout: float = 10.0,
             ca_file: Path | None = None) -> EvidenceRecord:
    """Survey host:port's protocols and suites and read its certificate; unreachable is an ERROR."""
    params = {"probe": "tls", "host": host, "port": port}
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return EvidenceRecord("web", "tls", "handshake", origin, params, utcnow(), Outcome.ERROR,
                              error_code="TLSUnreachable", error_message=f"{host}:{port}: {exc}"[:300])
    with ThreadPoolExecutor(max_workers=len(PROTOCOLS) + 1) as pool:
        surveys = {label: pool.submit(_survey, host, port, version, timeout)
                   for label, version in PROTOCOLS.items()}
        certificate = pool.submit(_certificate, host, port, timeout, ca_file)
        response: dict[str, Any] = {"protocols": {label: f.result() for label, f in surveys.items()},
                                    "certificate": certificate.result()}
    response["checked_at"] = dt.datetime.now(dt.UTC).isoformat()
    response["method"] = "ClientHello survey: each accepted suite found by offering the rest again"
    return EvidenceRecord("web", "tls", "handshake", origin, params, utcnow(), Outcome.OK, response=response)
