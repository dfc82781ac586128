"""Classic Load Balancer checks: internet-facing listeners terminate TLS 1.2 or later, every load balancer
writes access logs and mitigates HTTP desync. (Cross-zone balancing is about availability, and classic load
balancers have no deletion protection, so neither is checked.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, answer, bad, each, good, unknown
from controls.registry import Verdict, check

SECURE_PROTOCOLS = ("HTTPS", "SSL")
MODERN_REFERENCE_POLICIES = ("ELBSecurityPolicy-TLS-1-2-2017-01", "ELBSecurityPolicy-TLS-1-2-Ext-2018-06")
"""AWS's predefined classic policies whose lowest protocol is TLS 1.2 (the default 2016-08 allows 1.0)."""
OLD_PROTOCOLS = ("Protocol-SSLv2", "Protocol-SSLv3", "Protocol-TLSv1", "Protocol-TLSv1.1")
DESYNC_KEY = "elb.http.desyncmitigationmode"

LOAD_BALANCERS = Listing("elb", "describe_load_balancers", "LoadBalancerDescriptions", "loadbalancer/*",
                         arn_service="elasticloadbalancing",
                         arn=lambda inv, lb: inv.arn("elasticloadbalancing", lb.region,
                                                     f"loadbalancer/{lb.get('LoadBalancerName', '?')}"),
                         label=lambda lb: f"classic load balancer {lb.get('LoadBalancerName', '?')}")


def _negotiation(policies: list[dict[str, Any]], names: list[str]) -> tuple[bool | None, str]:
    """Whether the SSL negotiation policy among `names` admits only TLS 1.2 or later, and what it is."""
    chosen = [p for p in policies if p.get("PolicyName") in names
              and p.get("PolicyTypeName", "SSLNegotiationPolicyType") == "SSLNegotiationPolicyType"]
    if not chosen:
        return False, "no SSL negotiation policy (the default ELBSecurityPolicy-2016-08 allows TLS 1.0)"
    policy = chosen[0]
    raw = {a.get("AttributeName"): str(a.get("AttributeValue", ""))
           for a in policy.get("PolicyAttributeDescriptions") or []}
    values = {k: v.lower() for k, v in raw.items()}
    old = [name.removeprefix("Protocol-") for name in OLD_PROTOCOLS if values.get(name) == "true"]
    reference = raw.get("Reference-Security-Policy")
    name = f"policy {policy.get('PolicyName')}" + (f" ({reference})" if reference else "")
    if old:
        return False, f"{name}, which allows {', '.join(old)}"
    if reference in MODERN_REFERENCE_POLICIES or values.get("Protocol-TLSv1.2") == "true":
        return True, name
    if reference:
        return False, f"{name}, which allows protocols older than TLS 1.2"
    return None, f"{name}, whose protocols the answer does not state"


def _public(lb: Item) -> bool:
    return lb.get("Scheme") == "internet-facing"


@check("aws.elb.listener_tls", severity=Severity.HIGH, resource_type="AwsElbLoadBalancer",
       title="Internet-facing Classic Load Balancers terminate TLS 1.2 or later on every listener",
       rationale="""Card data crossing public networks must be encrypted with strong cryptography. A classic
       load balancer cannot redirect HTTP to HTTPS, so every listener must be HTTPS or SSL, with a
       negotiation policy that refuses TLS 1.0 and 1.1.""",
       remediation="""Replace HTTP/TCP listeners with HTTPS/SSL ones and attach a policy based on
       ELBSecurityPolicy-TLS-1-2-2017-01 (`aws elb create-load-balancer-policy --policy-type-name
       SSLNegotiationPolicyType` then `aws elb set-load-balancer-policies-of-listener`), or move to an
       Application Load Balancer.""")
def listener_tls(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(lb: Item) -> Judgement:
        listeners = [d.get("Listener") or {} for d in lb.get("ListenerDescriptions") or []]
        plain = [f"{x.get('Protocol', '?')}:{x.get('LoadBalancerPort', '?')}" for x in listeners
                 if str(x.get("Protocol", "")).upper() not in SECURE_PROTOCOLS]
        if plain:
            return bad(f"has listeners without TLS: {', '.join(plain)}")
        if not listeners:
            return unknown("states no listeners")
        rec, why = answer(inv, lb, "elb", "describe_load_balancer_policies",
                          LoadBalancerName=lb["LoadBalancerName"])
        if why:
            return unknown(f"listener policies unknown: {why}", rec)
        policies = (rec.response or {}).get("PolicyDescriptions") or []  # type: ignore[union-attr]
        verdicts = []
        for description in lb.get("ListenerDescriptions") or []:
            listener = description.get("Listener") or {}
            state, detail = _negotiation(policies, description.get("PolicyNames") or [])
            port = f"{listener.get('Protocol')}:{listener.get('LoadBalancerPort')}"
            verdicts.append((state, f"{port} uses {detail}"))
        failing = [text for state, text in verdicts if state is False]
        if failing:
            return bad(f"has a listener allowing protocols older than TLS 1.2: {'; '.join(failing)}", rec)
        unclear = [text for state, text in verdicts if state is None]
        if unclear:
            return unknown("; ".join(unclear), rec)
        listed = "; ".join(text for _, text in verdicts)
        return good(f"terminates TLS 1.2 or later on every listener ({listed})", rec)

    yield from each(inv, LOAD_BALANCERS, judge, keep=_public)


def _attributes(inv: AwsInventory, lb: Item) -> tuple[dict[str, Any], Any, Judgement | None]:
    """The load balancer's attributes and their record, or the judgement to give when they are unknown."""
    rec, why = answer(inv, lb, "elb", "describe_load_balancer_attributes",
                      LoadBalancerName=lb["LoadBalancerName"])
    if why:
        return {}, rec, unknown(f"attributes unknown: {why}", rec)
    return (rec.response or {}).get("LoadBalancerAttributes") or {}, rec, None  # type: ignore[union-attr]


@check("aws.elb.access_logs", severity=Severity.MEDIUM, resource_type="AwsElbLoadBalancer",
       title="Classic Load Balancers write access logs",
       rationale="""Access logs record every request with its client address, path, status and TLS details:
       the load balancer's audit trail when an attack or a breach is investigated.""",
       remediation="""Run `aws elb modify-load-balancer-attributes --load-balancer-name NAME
       --load-balancer-attributes "AccessLog={Enabled=true,S3BucketName=BUCKET,EmitInterval=60}"`.""")
def access_logs(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(lb: Item) -> Judgement:
        attributes, rec, problem = _attributes(inv, lb)
        if problem:
            return problem
        log = attributes.get("AccessLog")
        if not isinstance(log, dict) or "Enabled" not in log:
            return unknown("attributes do not state AccessLog", rec)
        if log["Enabled"] is True:
            return good(f"writes access logs to {log.get('S3BucketName', '?')}", rec)
        return bad("does not write access logs", rec)

    yield from each(inv, LOAD_BALANCERS, judge)


@check("aws.elb.desync_mitigation", severity=Severity.MEDIUM, resource_type="AwsElbLoadBalancer",
       title="Classic Load Balancers mitigate HTTP desync in defensive or strictest mode",
       rationale="""Ambiguous HTTP requests let an attacker smuggle requests past the load balancer or poison
       other users' responses. Defensive or strictest mode blocks the dangerous ones.""",
       remediation="""Run `aws elb modify-load-balancer-attributes --load-balancer-name NAME
       --load-balancer-attributes
       "AdditionalAttributes=[{Key=elb.http.desyncmitigationmode,Value=defensive}]"` (or strictest).""")
def desync_mitigation(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(lb: Item) -> Judgement:
        attributes, rec, problem = _attributes(inv, lb)
        if problem:
            return problem
        extra = {a.get("Key"): a.get("Value") for a in attributes.get("AdditionalAttributes") or []}
        mode = extra.get(DESYNC_KEY)
        if mode is None:
            return unknown(f"attributes do not state {DESYNC_KEY}", rec)
        if mode in ("defensive", "strictest"):
            return good(f"mitigates desync in {mode} mode", rec)
        return bad(f"mitigates desync only in {mode} mode", rec)

    yield from each(inv, LOAD_BALANCERS, judge)
