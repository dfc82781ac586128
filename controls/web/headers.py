"""Header checks over every response from the origin: HSTS, no-sniff, no framing, no version
disclosure, no permissive CORS with credentials."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from compliance.collect.record import EvidenceRecord
from compliance.findings import Severity
from controls.registry import Verdict, check, errored, failed, passed
from controls.web.inventory import WebInventory, header

HSTS_MIN_SECONDS = 31_536_000
_VERSION = re.compile(r"\d+\.\d+")
DISCLOSING = ("server", "x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-generator",
              "x-runtime-version")


def _per_response(inv: WebInventory, problem: Callable[[EvidenceRecord], str | None],
                  ok: str) -> Iterator[Verdict]:
    """FAIL on the origin naming each operation with a faulty response, else PASS; shared by the
    header checks, which judge every answered exchange."""
    answered = inv.responses()
    if not answered:
        yield errored(inv.origin, "no response from the origin to examine")
        return
    faults: dict[str, tuple[str, EvidenceRecord]] = {}
    for rec in answered:
        if (why := problem(rec)) is not None:
            faults.setdefault(rec.operation, (why, rec))
    if faults:
        listed = "; ".join(f"{op}: {why}" for op, (why, _) in list(faults.items())[:5])
        more = f" (and {len(faults) - 5} more operations)" if len(faults) > 5 else ""
        yield failed(inv.origin, f"{len(faults)} operations: {listed}{more}",
                     *(rec for _, rec in faults.values()))
    else:
        yield passed(inv.origin, f"{ok} on all {len(answered)} responses", *answered[:20])


def hsts_problem(rec: EvidenceRecord) -> str | None:
    value = header(rec, "strict-transport-security")
    if value is None:
        return "no Strict-Transport-Security"
    match = re.search(r"max-age\s*=\s*\"?(\d+)", value, re.I)
    if not match:
        return f"Strict-Transport-Security without max-age ({value})"
    if int(match.group(1)) < HSTS_MIN_SECONDS:
        return f"Strict-Transport-Security max-age {match.group(1)} is under a year"
    return None


@check("web.headers.hsts", severity=Severity.MEDIUM, resource_type="WebOrigin",
       title="Responses carry HSTS with a max-age of at least a year",
       rationale="""HSTS makes browsers and many clients refuse plain HTTP to the host, closing the
       downgrade a network attacker would use to strip TLS.""",
       remediation="""Send Strict-Transport-Security: max-age=31536000 (or more); includeSubDomains on every
       HTTPS response.""")
def hsts(inv: WebInventory) -> Iterator[Verdict]:
    if not inv.https:
        yield failed(inv.origin, "served over plain HTTP: HSTS cannot protect it")
        return
    yield from _per_response(inv, hsts_problem, "HSTS of a year or more")


@check("web.headers.nosniff", severity=Severity.LOW, resource_type="WebOrigin",
       title="Responses forbid content-type sniffing",
       rationale="""Without X-Content-Type-Options: nosniff a browser may execute a JSON or text response
       as script or HTML, turning reflected data into cross-site scripting.""",
       remediation="""Send X-Content-Type-Options: nosniff on every response.""")
def nosniff(inv: WebInventory) -> Iterator[Verdict]:
    yield from _per_response(
        inv, lambda r: None if (header(r, "x-content-type-options") or "").strip().lower() == "nosniff"
        else "no X-Content-Type-Options: nosniff", "X-Content-Type-Options: nosniff")


def framing_problem(rec: EvidenceRecord) -> str | None:
    frame = (header(rec, "x-frame-options") or "").strip().upper()
    csp = header(rec, "content-security-policy") or ""
    ancestors = re.search(r"frame-ancestors\s+([^;]+)", csp, re.I)
    if frame in ("DENY", "SAMEORIGIN"):
        return None
    if ancestors and ancestors.group(1).strip().lower() in ("'none'", "'self'"):
        return None
    return "framing not denied (no X-Frame-Options DENY/SAMEORIGIN or CSP frame-ancestors)"


@check("web.headers.framing", severity=Severity.LOW, resource_type="WebOrigin",
       title="Responses cannot be framed by other sites",
       rationale="""A page that other sites may frame can be overlaid to trick a user into clicking
       (clickjacking).""",
       remediation="""Send X-Frame-Options: DENY and Content-Security-Policy: frame-ancestors 'none'.""")
def framing(inv: WebInventory) -> Iterator[Verdict]:
    yield from _per_response(inv, framing_problem, "framing denied")


def disclosure_problem(rec: EvidenceRecord) -> str | None:
    shown = []
    for name in DISCLOSING:
        value = header(rec, name)
        if value is not None and (name != "server" or _VERSION.search(value)):
            shown.append(f"{name}: {value}")
    return "discloses " + ", ".join(shown) if shown else None


@check("web.headers.version_disclosure", severity=Severity.LOW, resource_type="WebOrigin",
       title="Responses do not disclose server or framework versions",
       rationale="""A version in Server or X-Powered-By tells an attacker which published
       vulnerabilities to try; hardening removes such unneeded information.""",
       remediation="""Drop X-Powered-By and similar headers and reduce Server to a product name without a
       version (or remove it) in the server, framework and proxy configuration.""")
def version_disclosure(inv: WebInventory) -> Iterator[Verdict]:
    yield from _per_response(inv, disclosure_problem, "no version disclosed")


@check("web.headers.cors", severity=Severity.HIGH, resource_type="WebOrigin",
       title="CORS never grants credentialed access to any origin",
       rationale="""Access-Control-Allow-Origin reflecting any origin (or *) together with
       Access-Control-Allow-Credentials: true lets any web site call the API with a victim's
       credentials and read the answer.""",
       remediation="""Allow credentials only for an explicit list of trusted origins, or not at all for a
       token-authenticated API.""")
def cors(inv: WebInventory) -> Iterator[Verdict]:
    records = [r for r in inv.of_kind("cors", "cors-preflight")]
    answered = [r for r in records if r.ok]
    if not answered:
        why = records[0].error if records else "CORS was not probed"
        yield errored(inv.origin, f"CORS unknown: {why}", *records)
        return
    permissive = []
    for rec in answered:
        allowed = (header(rec, "access-control-allow-origin") or "").strip()
        credentials = (header(rec, "access-control-allow-credentials") or "").strip().lower() == "true"
        if credentials and allowed in ("*", "null", rec.params["headers"].get("Origin")):
            permissive.append(f"{rec.operation} allows {allowed} with credentials")
    if permissive:
        yield failed(inv.origin, "; ".join(permissive[:4]), *answered)
    else:
        yield passed(inv.origin, f"no credentialed CORS for a foreign origin in {len(answered)} probes",
                     *answered)
