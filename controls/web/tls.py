"""Transport checks: TLS only, modern protocol versions, strong suites, a sound certificate."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

from compliance.findings import Severity
from controls.registry import Verdict, check, errored, failed, passed
from controls.web.inventory import WebInventory, header, status

LEGACY = ("SSL 2.0", "SSL 3.0", "TLS 1.0", "TLS 1.1")
MODERN = ("TLS 1.2", "TLS 1.3")
_REFUSED = ("ConnectionRefused", "ConnectionClosed", "TLSError")
_WEAK_PARTS = ("NULL", "anon", "EXPORT", "RC4", "_DES", "3DES", "DES40", "MD5", "IDEA", "RC2")
_STATIC_KEY_EXCHANGE = ("TLS_RSA_", "TLS_DH_", "TLS_ECDH_", "TLS_PSK_", "SSL_")
EXPIRY_WARNING_DAYS = 30


def weak_suite(name: str) -> str | None:
    """Why a cipher suite is weak, or None: broken primitives, or no forward secrecy."""
    for part in _WEAK_PARTS:
        if part in name:
            return part.strip("_")
    if name.startswith(_STATIC_KEY_EXCHANGE):
        return "no forward secrecy"
    return None


def _no_tls(inv: WebInventory) -> Verdict | None:
    if not inv.https:
        return failed(inv.origin, f"{inv.url} is served over plain HTTP: no TLS at all")
    if inv.tls is None:
        return errored(inv.origin, "no TLS handshake was recorded")
    if not inv.tls.ok:
        return errored(inv.origin, f"TLS unknown: {inv.tls.error}", inv.tls)
    return None


@check("web.tls.https_only", severity=Severity.HIGH, resource_type="WebOrigin",
       title="The API answers only over HTTPS (plain HTTP refused or redirected)",
       rationale="""A request sent over plain HTTP exposes its credentials and card data to anyone on
       the path; an API must not serve it, at most redirect it to HTTPS.""",
       remediation="""Close the plain-HTTP listener, or make it answer only with a 301/308 redirect to
       the https:// URL; serve the API itself only over TLS.""")
def https_only(inv: WebInventory) -> Iterator[Verdict]:
    if not inv.https:
        yield failed(inv.origin, f"{inv.url} is served over plain HTTP", *inv.of_kind("discovery",
                                                                                     "reachability"))
        return
    probes = inv.of_kind("plain-http")
    if not probes:
        yield errored(inv.origin, "plain HTTP was not probed")
        return
    served, unknown, closed = [], [], []
    for rec in probes:
        url = rec.params["url"]
        if not rec.ok:
            (closed if rec.error_code in _REFUSED else unknown).append(f"{url}: {rec.error_code}")
            continue
        code, location = status(rec), header(rec, "location") or ""
        if code in (301, 302, 303, 307, 308) and location.startswith("https://"):
            closed.append(f"{url} redirects to HTTPS")
        elif code in (400, 421, 426):
            closed.append(f"{url} refuses plain HTTP ({code})")
        else:
            served.append(f"{url} answers {code}" + (f" -> {location}" if location else ""))
    if served:
        yield failed(inv.origin, f"plain HTTP served: {'; '.join(served)}", *probes)
    elif unknown:
        yield errored(inv.origin, f"plain HTTP unknown: {'; '.join(unknown)}", *probes)
    else:
        yield passed(inv.origin, f"no plain HTTP: {'; '.join(closed)}", *probes)


@check("web.tls.protocols", severity=Severity.HIGH, resource_type="WebOrigin",
       title="Only TLS 1.2 and 1.3 are accepted",
       rationale="""SSL 3.0, TLS 1.0 and TLS 1.1 have known weaknesses and are not strong cryptography;
       a server that still accepts them lets a downgraded client use them.""",
       remediation="""Set the server's (or load balancer's) minimum protocol version to TLS 1.2, e.g.
       ssl_protocols TLSv1.2 TLSv1.3 in nginx or an ELBSecurityPolicy-TLS13-1-2 policy.""")
def protocols(inv: WebInventory) -> Iterator[Verdict]:
    if (problem := _no_tls(inv)) is not None:
        yield problem
        return
    assert inv.tls is not None
    found = inv.tls.response["protocols"]
    broken = [p for p in (*LEGACY, *MODERN) if "error" in found.get(p, {"error": "not tested"})]
    legacy = [p for p in LEGACY if found.get(p, {}).get("accepted")]
    modern = [p for p in MODERN if found.get(p, {}).get("accepted")]
    if legacy:
        yield failed(inv.origin, f"accepts {', '.join(legacy)}", inv.tls)
    elif broken:
        yield errored(inv.origin, f"could not test {', '.join(broken)}", inv.tls)
    elif not modern:
        yield failed(inv.origin, "accepts neither TLS 1.2 nor TLS 1.3", inv.tls)
    else:
        yield passed(inv.origin, f"accepts only {' and '.join(modern)}", inv.tls)


@check("web.tls.cipher_suites", severity=Severity.HIGH, resource_type="WebOrigin",
       title="No weak cipher suites are offered",
       rationale="""Suites with NULL, export-grade, RC4, DES/3DES or MD5 primitives, anonymous key
       exchange, or static RSA/DH key exchange (no forward secrecy) are not strong cryptography.""",
       remediation="""Offer only ECDHE (or DHE) key exchange with AES-GCM or ChaCha20-Poly1305, e.g. the
       Mozilla 'intermediate' configuration.""")
def cipher_suites(inv: WebInventory) -> Iterator[Verdict]:
    if (problem := _no_tls(inv)) is not None:
        yield problem
        return
    assert inv.tls is not None
    weak = []
    offered = 0
    for protocol, result in inv.tls.response["protocols"].items():
        for name in result.get("accepted", []):
            offered += 1
            if why := weak_suite(name):
                weak.append(f"{name} ({protocol}, {why})")
    if weak:
        shown = "; ".join(weak[:6]) + (f" and {len(weak) - 6} more" if len(weak) > 6 else "")
        yield failed(inv.origin, f"{len(weak)} weak suites offered: {shown}", inv.tls)
    elif offered == 0:
        yield errored(inv.origin, "no accepted cipher suite was recorded", inv.tls)
    else:
        yield passed(inv.origin, f"all {offered} offered suites use forward-secret key exchange and "
                                 "strong ciphers", inv.tls)


def _certificate(inv: WebInventory) -> tuple[dict | None, Verdict | None]:
    if (problem := _no_tls(inv)) is not None:
        return None, problem
    assert inv.tls is not None
    cert = inv.tls.response.get("certificate") or {}
    if "error" in cert or "not_after" not in cert:
        return None, errored(inv.origin, f"certificate unknown: {cert.get('error', 'not recorded')}",
                             inv.tls)
    return cert, None


@check("web.tls.certificate_trusted", severity=Severity.HIGH, resource_type="WebOrigin",
       title="The certificate chains to a trusted CA and is not self-signed",
       rationale="""Clients can only be sure they talk to the real API when its certificate is issued by
       a CA they trust; a self-signed or untrusted certificate trains users to accept any.""",
       remediation="""Serve a certificate issued by a public CA (or, for internal APIs, by a private CA the
       clients trust: pass its certificate with --ca-file), with the full chain. A self-signed
       certificate fails even when trusted through --ca-file: it has no issuer to revoke it.""")
def certificate_trusted(inv: WebInventory) -> Iterator[Verdict]:
    cert, problem = _certificate(inv)
    if problem is not None or cert is None:
        yield problem  # type: ignore[misc]
        return
    stores = cert.get("trust_stores") or {}
    trusted_by = [name for name, error in stores.items() if error is None]
    if cert.get("self_signed"):
        how = " (trusted here only through --ca-file)" if trusted_by else ""
        yield failed(inv.origin, f"certificate {cert['subject']} is self-signed{how}", inv.tls)
    elif not stores:
        yield errored(inv.origin, "no trust store validation was recorded", inv.tls)
    elif trusted_by:
        yield passed(inv.origin, f"certificate {cert['subject']} is trusted by {', '.join(trusted_by)}",
                     inv.tls)
    else:
        first = next(iter(stores.values()))
        yield failed(inv.origin, f"certificate {cert['subject']} (issuer {cert['issuer']}) is not trusted: "
                                 f"{first}", inv.tls)


@check("web.tls.certificate_validity", severity=Severity.HIGH, resource_type="WebOrigin",
       title="The certificate is valid now and for at least 30 more days",
       rationale="""An expired certificate breaks or weakens every client's verification, and one close
       to expiry shows renewal is not under control.""",
       remediation="""Renew the certificate (automate renewal, e.g. ACME or ACM) well before it expires.""")
def certificate_validity(inv: WebInventory) -> Iterator[Verdict]:
    cert, problem = _certificate(inv)
    if problem is not None or cert is None:
        yield problem  # type: ignore[misc]
        return
    assert inv.tls is not None
    now = dt.datetime.fromisoformat(inv.tls.response.get("checked_at") or inv.tls.collected_at)
    before = dt.datetime.fromisoformat(cert["not_before"])
    after = dt.datetime.fromisoformat(cert["not_after"])
    left = after - now
    if now < before:
        yield failed(inv.origin, f"certificate is not valid before {cert['not_before']}", inv.tls)
    elif left.total_seconds() <= 0:
        yield failed(inv.origin, f"certificate expired on {cert['not_after']}", inv.tls)
    elif left < dt.timedelta(days=EXPIRY_WARNING_DAYS):
        yield failed(inv.origin, f"certificate expires in {left.days} days ({cert['not_after']})", inv.tls)
    else:
        yield passed(inv.origin, f"certificate valid until {cert['not_after']} ({left.days} days)", inv.tls)


@check("web.tls.certificate_hostname", severity=Severity.HIGH, resource_type="WebOrigin",
       title="The certificate names the host the API is reached at",
       rationale="""A certificate for another name fails verification in every client that checks, and
       tempts clients to turn verification off.""",
       remediation="""Issue the certificate with the API's host name (or IP address) in its
       subjectAltName.""")
def certificate_hostname(inv: WebInventory) -> Iterator[Verdict]:
    cert, problem = _certificate(inv)
    if problem is not None or cert is None:
        yield problem  # type: ignore[misc]
        return
    names = ", ".join(cert.get("subject_alt_names") or []) or "no subjectAltName"
    if cert.get("hostname_matches"):
        yield passed(inv.origin, f"certificate names {cert['hostname']} ({names})", inv.tls)
    else:
        yield failed(inv.origin, f"certificate does not name {cert['hostname']} ({names})", inv.tls)
