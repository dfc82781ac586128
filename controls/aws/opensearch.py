"""OpenSearch checks: domains that may index cardholder data encrypt it at rest and between nodes, accept
only HTTPS with TLS 1.2 or later, are not open to the internet and keep an audit log."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory
from controls.aws.verdicts import Judgement, Listing, bad, each_detail, good, public_statements, unknown
from controls.registry import Verdict, check

MODERN_TLS_POLICY = re.compile(r"^Policy-Min-TLS-1-[23]")
"""OpenSearch's endpoint policies whose lowest protocol is TLS 1.2 (Policy-Min-TLS-1-0-2019-07 is not)."""

DOMAINS = Listing("opensearch", "list_domain_names", "DomainNames", "domain/*", arn_service="es",
                  arn=lambda inv, d: inv.arn("es", d.region, f"domain/{d.get('DomainName', '?')}"),
                  label=lambda d: f"OpenSearch domain {d.get('DomainName', '?')}")

Judge = Callable[[dict[str, Any]], Judgement]


def _each_domain(inv: AwsInventory, judge: Judge) -> Iterator[Verdict]:
    """`judge` over each domain's describe_domain status, ERROR without it."""
    return each_detail(inv, DOMAINS, "describe_domain", "DomainStatus",
                       lambda d: {"DomainName": d["DomainName"]}, judge)


def _flag(status: dict[str, Any], key: str) -> bool | None:
    options = status.get(key)
    return options.get("Enabled") if isinstance(options, dict) else None


def _enabled_check(key: str, yes: str, no: str) -> Judge:
    def judge(status: dict[str, Any]) -> Judgement:
        enabled = _flag(status, key)
        if enabled is None:
            return unknown(f"does not state {key}")
        return good(yes) if enabled is True else bad(no)
    return judge


@check("aws.opensearch.encrypted_at_rest", severity=Severity.HIGH, resource_type="AwsOpenSearchDomain",
       title="OpenSearch domains encrypt their data at rest",
       rationale="""Search indexes often hold copies of transactions, customer records and logs that may
       contain card numbers; encryption at rest keeps the disks, snapshots and swap unreadable without the
       KMS key.""",
       remediation="""Enable encryption at rest (`aws opensearch update-domain-config --domain-name NAME
       --encryption-at-rest-options Enabled=true,KmsKeyId=KEY`), which needs a recent engine version.""")
def encrypted_at_rest(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _each_domain(inv, _enabled_check("EncryptionAtRestOptions", "encrypts data at rest",
                                                "does not encrypt data at rest"))


@check("aws.opensearch.node_to_node_encryption", severity=Severity.MEDIUM,
       resource_type="AwsOpenSearchDomain",
       title="OpenSearch domains encrypt traffic between their nodes",
       rationale="""Nodes exchange index data, including whatever cardholder data was indexed, across
       availability zones; node-to-node TLS keeps it unreadable to anyone on that network path.""",
       remediation="""Run `aws opensearch update-domain-config --domain-name NAME
       --node-to-node-encryption-options Enabled=true` (it cannot be turned off again).""")
def node_to_node_encryption(inv: AwsInventory) -> Iterator[Verdict]:
    yield from _each_domain(inv, _enabled_check("NodeToNodeEncryptionOptions",
                                                "encrypts node-to-node traffic",
                                                "sends node-to-node traffic unencrypted"))


@check("aws.opensearch.https_tls12", severity=Severity.HIGH, resource_type="AwsOpenSearchDomain",
       title="OpenSearch domains accept only HTTPS with TLS 1.2 or later",
       rationale="""Queries and results travel between the applications and the domain; plain HTTP or TLS
       1.0 and 1.1 leave them readable or weakly protected.""",
       remediation="""Run `aws opensearch update-domain-config --domain-name NAME --domain-endpoint-options
       EnforceHTTPS=true,TLSSecurityPolicy=Policy-Min-TLS-1-2-PFS-2023-10`.""")
def https_tls12(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(status: dict[str, Any]) -> Judgement:
        options = status.get("DomainEndpointOptions")
        if not isinstance(options, dict) or "EnforceHTTPS" not in options:
            return unknown("does not state its endpoint options")
        policy = options.get("TLSSecurityPolicy") or "none"
        if options["EnforceHTTPS"] is not True:
            return bad(f"accepts plain HTTP (TLS policy {policy})")
        if MODERN_TLS_POLICY.match(policy):
            return good(f"enforces HTTPS with {policy}")
        return bad(f"enforces HTTPS but its policy {policy} allows protocols older than TLS 1.2")

    yield from _each_domain(inv, judge)


@check("aws.opensearch.not_public", severity=Severity.CRITICAL, resource_type="AwsOpenSearchDomain",
       title="OpenSearch domains are not open to the internet",
       rationale="""A domain with a public endpoint and an access policy allowing any principal can be read
       (and written) by anyone who finds it; search clusters left open are a common source of card data
       leaks. Domains in a VPC, or whose policy names its callers, are not open.""",
       remediation="""Create the domain inside the VPC (a domain cannot be moved, so migrate through a
       snapshot), or replace the Principal "*" statement with named roles or an IP condition using `aws
       opensearch update-domain-config --access-policies`.""")
def not_public(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(status: dict[str, Any]) -> Judgement:
        vpc = status.get("VPCOptions") or {}
        if vpc.get("VPCId") or vpc.get("SubnetIds"):
            return good(f"is reachable only inside {vpc.get('VPCId') or 'its VPC'}")
        if "AccessPolicies" not in status:
            return unknown("has a public endpoint and its access policy is not stated")
        found = public_statements(status.get("AccessPolicies"))
        if found:
            return bad("has a public endpoint and an access policy allowing anyone")
        return good("has a public endpoint, but its access policy grants nothing to everyone")

    yield from _each_domain(inv, judge)


@check("aws.opensearch.audit_logs", severity=Severity.MEDIUM, resource_type="AwsOpenSearchDomain",
       title="OpenSearch domains publish audit logs",
       rationale="""Audit logs record who searched, read or changed which index, and failed logins: the
       trail needed to show who accessed data held in the domain.""",
       remediation="""Turn on fine-grained access control and audit logging, then publish AUDIT_LOGS to a
       CloudWatch log group (`aws opensearch update-domain-config --log-publishing-options
       AUDIT_LOGS={CloudWatchLogsLogGroupArn=ARN,Enabled=true}`).""")
def audit_logs(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(status: dict[str, Any]) -> Judgement:
        audit = (status.get("LogPublishingOptions") or {}).get("AUDIT_LOGS") or {}
        if audit.get("Enabled") is True:
            return good(f"publishes audit logs to {audit.get('CloudWatchLogsLogGroupArn', '?')}")
        return bad("does not publish audit logs")

    yield from _each_domain(inv, judge)
