"""Application Load Balancer checks: a web application firewall in front, and only modern TLS."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import listing_errors, unusable
from controls.aws.wafv2 import web_acl_verdict
from controls.registry import Verdict, check, errored, failed, passed

MODERN_TLS_POLICY = re.compile(r"^ELBSecurityPolicy-(TLS13-1-[23]|TLS-1-2|FS-1-2)-")
"""AWS's predefined policies whose lowest protocol is TLS 1.2 (TLS13-1-0/1-1 still allow 1.0/1.1)."""


def public_albs(inv: AwsInventory) -> tuple[list[Item], Iterator[Verdict]]:
    """Internet-facing Application Load Balancers, and ERRORs for regions that could not be listed."""
    items, failures = inv.listing("elbv2", "describe_load_balancers", "LoadBalancers")
    albs = [lb for lb in items if lb.get("Type") == "application" and lb.get("Scheme") == "internet-facing"]
    return albs, listing_errors(inv, failures, "elasticloadbalancing", "loadbalancer/app/*")


@check("aws.elbv2.waf_attached", severity=Severity.HIGH, resource_type="AwsElbv2LoadBalancer",
       title="Internet-facing Application Load Balancers are protected by AWS WAF",
       rationale="""Public web applications need a layer that filters common attacks such as injection
       and known bad inputs before they reach the application, and records what it blocked.""",
       remediation="""In the AWS WAF console open the regional web ACL, choose Associated AWS resources >
       Add, and pick the load balancer; or run `aws wafv2 associate-web-acl --web-acl-arn ...
       --resource-arn <load balancer ARN>`.""")
def waf_attached(inv: AwsInventory) -> Iterator[Verdict]:
    albs, errors = public_albs(inv)
    yield from errors
    for lb in albs:
        yield web_acl_verdict(inv, lb["LoadBalancerArn"], f"load balancer {lb.get('LoadBalancerName', '?')}",
                              lb.region, lb.record)


def _redirects_to_https(listener: dict[str, Any]) -> bool:
    return any(action.get("Type") == "redirect"
               and (action.get("RedirectConfig") or {}).get("Protocol") == "HTTPS"
               for action in listener.get("DefaultActions") or [])


def _listener_verdict(listener: dict[str, Any], lb_name: str, region: str, *evidence: Any) -> Verdict:
    arn = listener["ListenerArn"]
    label = f"{lb_name} listener {listener.get('Protocol', '?')}:{listener.get('Port', '?')}"
    if listener.get("Protocol") == "HTTPS":
        policy = listener.get("SslPolicy") or "none"
        if MODERN_TLS_POLICY.match(policy):
            return passed(arn, f"{label} uses TLS policy {policy} (TLS 1.2 or later)", *evidence,
                          region=region)
        return failed(arn, f"{label} uses TLS policy {policy}, which allows protocols older than TLS 1.2",
                      *evidence, region=region)
    if _redirects_to_https(listener):
        return passed(arn, f"{label} only redirects to HTTPS", *evidence, region=region)
    return failed(arn, f"{label} serves traffic without TLS", *evidence, region=region)


@check("aws.elbv2.listener_tls", severity=Severity.HIGH, resource_type="AwsElbv2Listener",
       title="Internet-facing load balancer listeners use TLS 1.2 or later",
       rationale="""Data sent over public networks must be protected with strong cryptography; TLS 1.0 and
       1.1 are obsolete and plain HTTP is readable by anyone on the path. An HTTP listener is acceptable
       only when all it does is redirect to HTTPS.""",
       remediation="""In the EC2 console (Load Balancers > Listeners > Edit) choose a security policy such
       as ELBSecurityPolicy-TLS13-1-2-2021-06, or run `aws elbv2 modify-listener --ssl-policy ...`; make
       plain HTTP listeners redirect to HTTPS with a redirect default action.""")
def listener_tls(inv: AwsInventory) -> Iterator[Verdict]:
    albs, errors = public_albs(inv)
    yield from errors
    for lb in albs:
        name = f"load balancer {lb.get('LoadBalancerName', '?')}"
        rec = inv.call("elbv2", "describe_listeners", lb.region, LoadBalancerArn=lb["LoadBalancerArn"])
        why = unusable(rec, "describe_listeners")
        if rec is None or why:
            yield errored(lb["LoadBalancerArn"], f"{name}: listeners unknown: {why}", lb.record, rec,
                          region=lb.region)
            continue
        for listener in (rec.response or {}).get("Listeners") or []:
            yield _listener_verdict(listener, name, lb.region, lb.record, rec)
