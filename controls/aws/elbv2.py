"""Load balancer checks: a blocking web application firewall in front, only modern TLS, access logs,
deletion protection and HTTP desync defences."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import (
    Judgement,
    Listing,
    answer,
    bad,
    each,
    good,
    listing_errors,
    unknown,
    unusable,
)
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
       title="Internet-facing Application Load Balancers sit behind a web ACL that blocks web attacks",
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


LOAD_BALANCERS = Listing("elbv2", "describe_load_balancers", "LoadBalancers", "loadbalancer/*",
                         arn_service="elasticloadbalancing",
                         arn=lambda inv, lb: lb["LoadBalancerArn"],
                         label=lambda lb: f"load balancer {lb.get('LoadBalancerName', '?')}")


def _attribute(inv: AwsInventory, lb: Item, key: str) -> tuple[str | None, Judgement | None]:
    """One attribute's value, or the judgement to give when it cannot be known."""
    rec, why = answer(inv, lb, "elbv2", "describe_load_balancer_attributes",
                      LoadBalancerArn=lb["LoadBalancerArn"])
    if why:
        return None, unknown(f"attributes unknown: {why}", rec)
    attributes = (rec.response or {}).get("Attributes") or []  # type: ignore[union-attr]
    values = {a.get("Key"): a.get("Value") for a in attributes}
    if key not in values:
        return None, unknown(f"describe_load_balancer_attributes does not state {key}", rec)
    return str(values[key]), None


def _attribute_check(inv: AwsInventory, key: str, test: Callable[[str], bool], yes: str, no: str,
                     albs_only: bool = False) -> Iterator[Verdict]:
    def judge(lb: Item) -> Judgement:
        value, problem = _attribute(inv, lb, key)
        if problem:
            return problem
        rec = inv.call("elbv2", "describe_load_balancer_attributes", lb.region,
                       LoadBalancerArn=lb["LoadBalancerArn"])
        return good(yes.format(value=value), rec) if test(str(value)) else bad(no.format(value=value), rec)
    keep = (lambda lb: lb.get("Type") == "application") if albs_only else None
    yield from each(inv, LOAD_BALANCERS, judge, keep)


@check("aws.elbv2.access_logs", severity=Severity.MEDIUM, resource_type="AwsElbv2LoadBalancer",
       title="Load balancers write access logs",
       rationale="""Access logs record every request with its client address, path, status and TLS
       details; they are the load balancer's audit trail for investigating attacks.""",
       remediation="""In the EC2 console open the load balancer, choose Attributes > Edit > Access logs and
       name an S3 bucket, or run `aws elbv2 modify-load-balancer-attributes --attributes
       Key=access_logs.s3.enabled,Value=true Key=access_logs.s3.bucket,Value=<bucket>`.""")
def access_logs(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _attribute_check(inv, "access_logs.s3.enabled", lambda v: v == "true", "writes access logs",
                                "does not write access logs")


@check("aws.elbv2.deletion_protection", severity=Severity.LOW, resource_type="AwsElbv2LoadBalancer",
       title="Load balancers have deletion protection",
       rationale="""Deleting the load balancer in front of the payment service takes it off line; deletion
       protection makes that a deliberate, two-step change.""",
       remediation="""Run `aws elbv2 modify-load-balancer-attributes --attributes
       Key=deletion_protection.enabled,Value=true` (or Attributes > Edit in the console).""")
def deletion_protection(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _attribute_check(inv, "deletion_protection.enabled", lambda v: v == "true",
                                "has deletion protection", "has no deletion protection")


@check("aws.elbv2.desync_mitigation", severity=Severity.MEDIUM, resource_type="AwsElbv2LoadBalancer",
       title="Application Load Balancers mitigate HTTP desync in defensive or strictest mode",
       rationale="""Request smuggling through ambiguous HTTP requests lets an attacker slip requests past
       the load balancer or poison other users' responses. Defensive or strictest mode blocks them.""",
       remediation="""Run `aws elbv2 modify-load-balancer-attributes --attributes
       Key=routing.http.desync_mitigation_mode,Value=defensive` (or strictest).""")
def desync_mitigation(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _attribute_check(inv, "routing.http.desync_mitigation_mode",
                                lambda v: v in ("defensive", "strictest"), "mitigates desync in {value} mode",
                                "mitigates desync only in {value} mode", albs_only=True)


@check("aws.elbv2.drop_invalid_headers", severity=Severity.MEDIUM, resource_type="AwsElbv2LoadBalancer",
       title="Application Load Balancers drop invalid HTTP header fields",
       rationale="""Headers with invalid names are a tool for request smuggling and for confusing the
       application behind the load balancer; dropping them removes the ambiguity.""",
       remediation="""Run `aws elbv2 modify-load-balancer-attributes --attributes
       Key=routing.http.drop_invalid_header_fields.enabled,Value=true`.""")
def drop_invalid_headers(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _attribute_check(inv, "routing.http.drop_invalid_header_fields.enabled", lambda v: v == "true",
                                "drops invalid header fields", "passes invalid header fields on",
                                albs_only=True)
