"""CloudFront checks: viewers connect over HTTPS with TLS 1.2 or later, origins are reached only through
the distribution and over HTTPS, a blocking web ACL sits in front, and requests are logged."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import GLOBAL, AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, bad, each_detail, good, unknown, unusable
from controls.aws.wafv2 import blocks_common_attacks
from controls.registry import Verdict, check

SECURE_VIEWER_POLICIES = ("https-only", "redirect-to-https")
MODERN_VIEWER_TLS = re.compile(r"^TLSv1\.[23]")
"""Security policies whose lowest protocol is TLS 1.2 (TLSv1.2_2018/2019/2021 and later)."""
S3_ORIGIN = re.compile(r"\.s3[.-]([a-z0-9-]+\.)?amazonaws\.com(\.cn)?$")
"""An S3 REST endpoint; website endpoints (s3-website) serve HTTP only and count as custom origins."""

DISTRIBUTIONS = Listing("cloudfront", "list_distributions", "DistributionList.Items", "distribution/*",
                        scope=GLOBAL,
                        arn=lambda inv, d: d.get("ARN") or inv.arn("cloudfront", GLOBAL,
                                                                   f"distribution/{d['Id']}"),
                        label=lambda d: _label(d))


def _label(dist: Item) -> str:
    """Id, comment (teams name distributions there) and the domain viewers use."""
    aliases = (dist.get("Aliases") or {}).get("Items") or []
    comment = f" '{dist['Comment']}'" if dist.get("Comment") else ""
    domain = aliases[0] if aliases else dist.get("DomainName", "?")
    return f"distribution {dist.get('Id', '?')}{comment} ({domain})"

def _each_distribution(inv: AwsInventory, judge: Callable[[dict[str, Any]], Judgement]) -> Iterator[Verdict]:
    """`judge` over each distribution's configuration (get_distribution_config), ERROR without it."""
    return each_detail(inv, DISTRIBUTIONS, "get_distribution_config", "DistributionConfig",
                       lambda d: {"Id": d["Id"]}, judge)


def _behaviours(config: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = [("default", config.get("DefaultCacheBehavior") or {})]
    others = (config.get("CacheBehaviors") or {}).get("Items") or []
    found += [(str(b.get("PathPattern", "?")), b) for b in others]
    return found


@check("aws.cloudfront.viewer_https", severity=Severity.HIGH, resource_type="AwsCloudFrontDistribution",
       title="CloudFront distributions serve viewers over HTTPS only",
       rationale="""Pages and API calls carrying card data cross the public internet between the viewer and
       the edge; every cache behaviour must refuse plain HTTP or redirect it to HTTPS.""",
       remediation="""Set Viewer protocol policy to Redirect HTTP to HTTPS (or HTTPS only) on the default
       and every other cache behaviour (`aws cloudfront update-distribution` with ViewerProtocolPolicy set
       to redirect-to-https).""")
def viewer_https(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(config: dict[str, Any]) -> Judgement:
        behaviours = _behaviours(config)
        policies = {name: b.get("ViewerProtocolPolicy") for name, b in behaviours}
        if any(policy is None for policy in policies.values()):
            return unknown("does not state the viewer protocol policy of every cache behaviour")
        plain = [f"{name} ({policy})" for name, policy in policies.items()
                 if policy not in SECURE_VIEWER_POLICIES]
        if plain:
            return bad(f"serves plain HTTP on cache behaviour(s) {', '.join(plain)}")
        return good(f"serves viewers over HTTPS only ({len(policies)} cache behaviour(s))")

    yield from _each_distribution(inv, judge)


@check("aws.cloudfront.viewer_tls", severity=Severity.HIGH, resource_type="AwsCloudFrontDistribution",
       title="CloudFront distributions accept TLS 1.2 or later from viewers",
       rationale="""TLS 1.0 and 1.1 are obsolete and must not protect card data on public networks. The
       default *.cloudfront.net certificate always accepts TLS 1.0, so a custom certificate with a TLS 1.2
       security policy is needed.""",
       remediation="""Attach an ACM certificate (us-east-1) and choose security policy TLSv1.2_2021 in the
       distribution's settings (ViewerCertificate MinimumProtocolVersion with `aws cloudfront
       update-distribution`).""")
def viewer_tls(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(config: dict[str, Any]) -> Judgement:
        cert = config.get("ViewerCertificate")
        if not isinstance(cert, dict):
            return unknown("does not state its viewer certificate")
        if cert.get("CloudFrontDefaultCertificate") is True:
            return bad("uses the default *.cloudfront.net certificate, which accepts TLS 1.0")
        minimum = str(cert.get("MinimumProtocolVersion") or "none")
        if MODERN_VIEWER_TLS.match(minimum):
            return good(f"requires {minimum} from viewers")
        return bad(f"accepts viewers down to {minimum}, older than TLS 1.2")

    yield from _each_distribution(inv, judge)


def _origin_problem(origin: dict[str, Any]) -> str | None:
    """Why the origin can be reached around the distribution or in clear text, or None when it cannot."""
    name = f"origin {origin.get('Id', '?')} ({origin.get('DomainName', '?')})"
    if origin.get("VpcOriginConfig"):
        return None
    custom = origin.get("CustomOriginConfig")
    if custom is None and (origin.get("S3OriginConfig") is not None or S3_ORIGIN.search(
            str(origin.get("DomainName", "")))):
        identity = (origin.get("S3OriginConfig") or {}).get("OriginAccessIdentity")
        if origin.get("OriginAccessControlId") or identity:
            return None
        return f"{name} is an S3 bucket read without origin access control or identity"
    policy = (custom or {}).get("OriginProtocolPolicy")
    if policy == "https-only":
        return None
    return f"{name} is fetched with protocol policy {policy or 'unknown'}, not https-only"


@check("aws.cloudfront.origin_protection", severity=Severity.HIGH, resource_type="AwsCloudFrontDistribution",
       title="CloudFront reaches S3 origins through origin access control and custom origins over HTTPS",
       rationale="""An S3 origin without origin access control must be readable by everyone for CloudFront
       to fetch it, which bypasses the edge's TLS, WAF and logging. A custom origin fetched over HTTP sends
       the viewer's data across the internet unencrypted on its second leg.""",
       remediation="""Create an origin access control and attach it to each S3 origin (then allow only the
       distribution in the bucket policy); set Origin protocol policy to HTTPS only on custom origins.""")
def origin_protection(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(config: dict[str, Any]) -> Judgement:
        origins = (config.get("Origins") or {}).get("Items")
        if not origins:
            return unknown("does not state its origins")
        problems = [p for p in map(_origin_problem, origins) if p]
        if problems:
            return bad("; ".join(problems))
        return good(f"reaches its {len(origins)} origin(s) only through access control or HTTPS")

    yield from _each_distribution(inv, judge)


def _cloudfront_acls(inv: AwsInventory) -> tuple[dict[str, Item], list[Any]]:
    """The CLOUDFRONT-scope web ACLs by ARN, and the records of a failed listing."""
    acls, failures = inv.listing("wafv2", "list_web_acls", "WebACLs", [GLOBAL], Scope="CLOUDFRONT")
    return {str(acl.get("ARN")): acl for acl in acls}, failures


@check("aws.cloudfront.waf_attached", severity=Severity.HIGH, resource_type="AwsCloudFrontDistribution",
       title="CloudFront distributions sit behind a web ACL that blocks web attacks",
       rationale="""The distribution is the public entry point of the web application; its web ACL must block
       (not only count) common attacks such as injection before they reach the origin.""",
       remediation="""Create a web ACL with scope CLOUDFRONT in us-east-1 using the AWS core rule set in
       block mode and attach it in the distribution's settings (`aws cloudfront update-distribution` with
       WebACLId set to the ACL's ARN).""")
def waf_attached(inv: AwsInventory) -> Iterator[Verdict]:
    acls, failures = _cloudfront_acls(inv)

    def judge(config: dict[str, Any]) -> Judgement:
        if "WebACLId" not in config:
            return unknown("does not state its web ACL")
        acl_id = str(config.get("WebACLId") or "")
        if not acl_id:
            return bad("has no WAF web ACL")
        if not acl_id.startswith("arn:"):
            return unknown(f"uses WAF Classic web ACL {acl_id}, which this scan does not read")
        if failures:
            return unknown(f"web ACL {acl_id} unknown: {failures[0].error}", *failures)
        acl = acls.get(acl_id)
        if acl is None:
            return unknown(f"names web ACL {acl_id}, which list_web_acls (CLOUDFRONT) does not return")
        described = inv.call("wafv2", "get_web_acl", None, Name=acl.get("Name"), Id=acl.get("Id"),
                             Scope="CLOUDFRONT")
        why = unusable(described, "get_web_acl")
        if described is None or why:
            return unknown(f"web ACL {acl.get('Name')} unknown: {why}", acl.record, described)
        body = (described.response or {}).get("WebACL") or {}
        name = body.get("Name") or acl_id
        if "Rules" not in body:
            return unknown(f"has web ACL {name}, whose rules the answer does not state", acl.record,
                           described)
        blocking, detail = blocks_common_attacks(body)
        if blocking:
            return good(f"is protected by web ACL {name}: {detail}", acl.record, described)
        return bad(f"has web ACL {name}, but it {detail}", acl.record, described)

    yield from _each_distribution(inv, judge)


@check("aws.cloudfront.access_logging", severity=Severity.MEDIUM, resource_type="AwsCloudFrontDistribution",
       title="CloudFront distributions write standard access logs",
       rationale="""Edge access logs record every viewer request with its address, path, status and TLS
       details: the trail for investigating attacks on the public entry point.""",
       remediation="""Turn on standard logging to an S3 bucket in the distribution's settings (Logging
       Enabled=true, Bucket=BUCKET.s3.amazonaws.com) with `aws cloudfront update-distribution`.""")
def access_logging(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(config: dict[str, Any]) -> Judgement:
        logging = config.get("Logging")
        if not isinstance(logging, dict) or "Enabled" not in logging:
            return unknown("does not state its logging configuration")
        if logging["Enabled"] is True and logging.get("Bucket"):
            return good(f"logs requests to {logging['Bucket']}")
        return bad("writes no standard access logs")

    yield from _each_distribution(inv, judge)
