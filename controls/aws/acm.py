"""ACM checks: issued certificates are far from expiry and use keys of adequate length."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, answer, bad, days_between, each, good, unknown
from controls.registry import Verdict, check

RENEW_DAYS = 30
WEAK_KEYS = ("RSA_1024",)

CERTIFICATES = Listing("acm", "list_certificates", "CertificateSummaryList", "certificate/*",
                       arn=lambda inv, c: c["CertificateArn"],
                       label=lambda c: f"certificate for {c.get('DomainName', c['CertificateArn'])}")


def _detail(inv: AwsInventory, cert: Item) -> tuple[dict, Judgement | None]:
    rec, why = answer(inv, cert, "acm", "describe_certificate", CertificateArn=cert["CertificateArn"])
    if why:
        return {}, unknown(f"details unknown: {why}", rec)
    return (rec.response or {}).get("Certificate") or {}, None  # type: ignore[union-attr]


@check("aws.acm.certificate_not_expiring", severity=Severity.HIGH,
       resource_type="AwsCertificateManagerCertificate",
       title="Issued ACM certificates are valid for at least 30 more days",
       rationale="""An expired certificate breaks TLS for the payment pages and APIs, and teaches users to
       click through warnings. Thirty days leaves time to fix a renewal that is stuck.""",
       remediation="""Check the certificate's renewal status in the ACM console; complete DNS validation for
       DNS-validated certificates, or import a renewed certificate with `aws acm import-certificate`.""")
def certificate_not_expiring(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(cert: Item) -> Judgement | None:
        detail, problem = _detail(inv, cert)
        if problem:
            return problem
        rec = inv.call("acm", "describe_certificate", None if cert.region == "global" else cert.region,
                       CertificateArn=cert["CertificateArn"])
        if detail.get("Status") != "ISSUED":
            return None
        left = days_between(cert.record.collected_at, detail.get("NotAfter"))
        if left is None:
            return unknown("states no expiry date", rec)
        if left < RENEW_DAYS:
            return bad(f"expires in {left} days" if left >= 0 else f"expired {-left} days ago", rec)
        return good(f"is valid for {left} more days", rec)
    yield from each(inv, CERTIFICATES, judge)


@check("aws.acm.key_length", severity=Severity.MEDIUM, resource_type="AwsCertificateManagerCertificate",
       title="ACM certificates use RSA keys of at least 2048 bits or ECDSA keys",
       rationale="""Strong cryptography for data in transit needs keys of adequate length; 1024-bit RSA
       can no longer be trusted.""",
       remediation="""Request or import a replacement certificate with an RSA 2048 (or larger) or ECDSA P-256
       key, move the listeners and distributions to it and delete the weak one.""")
def key_length(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(cert: Item) -> Judgement:
        detail, problem = _detail(inv, cert)
        if problem:
            return problem
        rec = inv.call("acm", "describe_certificate", None if cert.region == "global" else cert.region,
                       CertificateArn=cert["CertificateArn"])
        algorithm = detail.get("KeyAlgorithm") or cert.get("KeyAlgorithm")
        if not algorithm:
            return unknown("states no key algorithm", rec)
        if algorithm in WEAK_KEYS:
            return bad(f"uses a weak {algorithm} key", rec)
        return good(f"uses a {algorithm} key", rec)
    yield from each(inv, CERTIFICATES, judge)
