"""The TLS side of a web target, probed with sslyze: protocol versions, cipher suites, certificate.

The standard `ssl` module cannot offer TLS 1.0/1.1 or weak suites on OpenSSL 3, so it cannot ask a
server whether it would accept them; sslyze carries its own legacy-capable OpenSSL for that. One
evidence record holds the whole answer, plain data only, so the checks never see an sslyze object.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import logging
import warnings
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from compliance.collect.record import EvidenceRecord, Outcome, utcnow

PROTOCOLS = {
    "SSL 2.0": "ssl_2_0_cipher_suites",
    "SSL 3.0": "ssl_3_0_cipher_suites",
    "TLS 1.0": "tls_1_0_cipher_suites",
    "TLS 1.1": "tls_1_1_cipher_suites",
    "TLS 1.2": "tls_1_2_cipher_suites",
    "TLS 1.3": "tls_1_3_cipher_suites",
}


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


def scan_tls(origin: str, host: str, port: int, *, timeout: float = 10.0,
             ca_file: Path | None = None) -> EvidenceRecord:
    """One sslyze scan of host:port; an unreachable server or failed handshake is an ERROR record."""
    from sslyze import (
        CertificateInfoExtraArgument,
        ScanCommand,
        ScanCommandAttemptStatusEnum,
        ScanCommandsExtraArguments,
        Scanner,
        ServerNetworkConfiguration,
        ServerNetworkLocation,
        ServerScanRequest,
        ServerScanStatusEnum,
    )

    logging.getLogger("sslyze").setLevel(logging.CRITICAL)
    params = {"probe": "tls", "host": host, "port": port}
    commands = {getattr(ScanCommand, attr.upper()) for attr in PROTOCOLS.values()}
    commands.add(ScanCommand.CERTIFICATE_INFO)
    extra = ScanCommandsExtraArguments(
        certificate_info=CertificateInfoExtraArgument(custom_ca_file=ca_file)) if ca_file else None
    try:
        ip_address = str(ipaddress.ip_address(host))
    except ValueError:
        ip_address = None
    request = ServerScanRequest(
        server_location=ServerNetworkLocation(host, port, ip_address=ip_address),
        network_configuration=ServerNetworkConfiguration(
            tls_server_name_indication=host, network_timeout=max(1, int(timeout)), network_max_retries=1),
        scan_commands=commands,
        **({"scan_commands_extra_arguments": extra} if extra else {}),
    )
    scanner = Scanner()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sslyze's bundled trust stores hold old certificates
        scanner.queue_scans([request])
        result = next(iter(scanner.get_results()))
    if result.scan_status is not ServerScanStatusEnum.COMPLETED or result.scan_result is None:
        trace = result.connectivity_error_trace
        reason = " ".join(str(trace).split("\n")[-2:]).strip() if trace else str(result.connectivity_status)
        return EvidenceRecord("web", "tls", "handshake", origin, params, utcnow(), Outcome.ERROR,
                              error_code="TLSUnreachable", error_message=reason[:300])
    scan = result.scan_result
    protocols: dict[str, Any] = {}
    for label, attr in PROTOCOLS.items():
        attempt = getattr(scan, attr)
        if attempt.status is ScanCommandAttemptStatusEnum.COMPLETED and attempt.result is not None:
            protocols[label] = {"accepted": [c.cipher_suite.name
                                             for c in attempt.result.accepted_cipher_suites]}
        else:
            protocols[label] = {"error": str(attempt.error_reason or attempt.status)}
    response: dict[str, Any] = {"protocols": protocols, "checked_at": dt.datetime.now(dt.UTC).isoformat()}
    cert = scan.certificate_info
    if cert.status is ScanCommandAttemptStatusEnum.COMPLETED and cert.result is not None and \
            cert.result.certificate_deployments:
        deployment = cert.result.certificate_deployments[0]
        validations = {r.trust_store.name: (None if r.was_validation_successful
                                            else str(r.validation_error or "not trusted")[:200])
                       for r in deployment.path_validation_results}
        response["certificate"] = certificate_facts(
            list(deployment.received_certificate_chain), host, validations,
            str(ca_file) if ca_file else None)
    else:
        response["certificate"] = {"error": str(cert.error_reason or cert.status)}
    return EvidenceRecord("web", "tls", "handshake", origin, params, utcnow(), Outcome.OK, response=response)
