"""AWS WAF checks: regional web ACLs block with AWS's baseline and SQL injection rule groups and log
what they see; the verdict that a load balancer or API stage is protected by one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import listing_errors, unusable
from controls.registry import Verdict, check, errored, failed, passed

REQUIRED_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")


def web_acl_verdict(inv: AwsInventory, arn: str, label: str, region: str, *evidence: Any) -> Verdict:
    """The resource-centric verdict: `arn` (a load balancer or API stage) is protected only when its web
    ACL, as get_web_acl_for_resource returns it, has rules that block common web attacks. The finding is
    on the resource and names the ACL."""
    rec = inv.call("wafv2", "get_web_acl_for_resource", region, ResourceArn=arn)
    why = unusable(rec, "get_web_acl_for_resource")
    if rec is None or why:
        return errored(arn, f"{label}: web ACL unknown: {why}", *evidence, rec, region=region)
    return acl_verdict(arn, label, region, (rec.response or {}).get("WebACL"), *evidence, rec)


def acl_verdict(arn: str, label: str, region: str | None, acl: dict[str, Any] | None,
                *evidence: Any) -> Verdict:
    """Whether the web ACL found for a resource (None: it has none) blocks common web attacks; shared by
    load balancers, API stages and CloudFront distributions."""
    if not acl:
        return failed(arn, f"{label} has no WAF web ACL", *evidence, region=region)
    name = acl.get("Name") or acl.get("ARN") or "?"
    if "Rules" not in acl:
        return errored(arn, f"{label} has web ACL {name}, whose rules the answer does not state", *evidence,
                       region=region)
    blocking, detail = blocks_common_attacks(acl)
    if blocking:
        return passed(arn, f"{label} is protected by web ACL {name}: {detail}", *evidence, region=region)
    return failed(arn, f"{label} has web ACL {name}, but it {detail}", *evidence, region=region)


COMMON_GROUP = "AWSManagedRulesCommonRuleSet"
SQLI_GROUP = "AWSManagedRulesSQLiRuleSet"


def _blocking_match(acl: dict[str, Any], statement: str) -> bool:
    """A custom rule with action Block whose statement (at any depth) is of the given kind."""
    for rule in acl.get("Rules") or []:
        blocks = "Block" in (rule.get("Action") or {})
        if blocks and f'"{statement}"' in json.dumps(rule.get("Statement") or {}):
            return True
    return False


def blocks_common_attacks(acl: dict[str, Any]) -> tuple[bool, str]:
    """Whether the ACL blocks (not only counts) common web attacks: AWS's core rule set, or custom rules
    blocking both SQL injection and cross-site scripting."""
    groups = aws_rule_groups(acl)
    if groups.get(COMMON_GROUP):
        return True, f"{COMMON_GROUP} blocks"
    if _blocking_match(acl, "SqliMatchStatement") and _blocking_match(acl, "XssMatchStatement"):
        return True, "its own rules block SQL injection and cross-site scripting"
    if COMMON_GROUP in groups:
        return False, f"only counts with {COMMON_GROUP} (override action Count)"
    return False, "has no rule blocking common web attacks (core rule set, or SQL injection and XSS rules)"


def _web_acls(inv: AwsInventory) -> tuple[list[Item], Iterator[Verdict]]:
    acls, failures = inv.listing("wafv2", "list_web_acls", "WebACLs", Scope="REGIONAL")
    return acls, listing_errors(inv, failures, "wafv2", "regional/webacl/*")


def aws_rule_groups(acl: dict[str, Any]) -> dict[str, bool]:
    """AWS managed rule groups the ACL uses (Firewall Manager's included), each mapped to whether it blocks.

    A group whose override action is Count only observes: it does not protect.
    """
    rules = [*(acl.get("PreProcessFirewallManagerRuleGroups") or []), *(acl.get("Rules") or []),
             *(acl.get("PostProcessFirewallManagerRuleGroups") or [])]
    groups: dict[str, bool] = {}
    for rule in rules:
        statement = (rule.get("Statement") or (rule.get("FirewallManagerStatement") or {})).get(
            "ManagedRuleGroupStatement") or {}
        if statement.get("VendorName") == "AWS":
            name = statement.get("Name", "")
            groups[name] = groups.get(name, False) or "Count" not in (rule.get("OverrideAction") or {})
    return groups


def _missing_groups(acl: dict[str, Any]) -> list[str]:
    groups = aws_rule_groups(acl)
    problems = []
    for name in REQUIRED_GROUPS:
        if name not in groups:
            problems.append(f"lacks {name}")
        elif not groups[name]:
            problems.append(f"only counts with {name} (override action Count)")
    return problems


@check("aws.wafv2.managed_rules", severity=Severity.HIGH, resource_type="AwsWafv2WebAcl",
       title="Web ACLs enforce AWS's core and known-bad-inputs managed rule groups",
       rationale="""A web ACL without rules filters nothing. AWS's core rule set and known-bad-inputs rule
       group block the common web attacks (injection, cross-site scripting, exploit payloads) that public
       applications must be protected against, and AWS keeps them current.""",
       remediation="""In the AWS WAF console open the web ACL, choose Rules > Add rules > Add managed rule
       groups and add the AWS Core rule set and Known bad inputs with their rule actions in effect (not
       Count); or add both ManagedRuleGroupStatement rules with `aws wafv2 update-web-acl`.""")
def managed_rules(inv: AwsInventory) -> Iterator[Verdict]:
    acls, errors = _web_acls(inv)
    yield from errors
    for item in acls:
        label = f"web ACL {item.get('Name', item['ARN'])}"
        rec = inv.call("wafv2", "get_web_acl", item.region, Name=item["Name"], Id=item["Id"],
                       Scope="REGIONAL")
        why = unusable(rec, "get_web_acl")
        acl = (rec.response or {}).get("WebACL") if rec is not None and not why else None
        if acl is None:
            yield errored(item["ARN"], f"{label}: rules unknown: {why or 'get_web_acl returned no WebACL'}",
                          item.record, rec, region=item.region)
        elif not acl.get("Rules") and not aws_rule_groups(acl):
            default = next(iter(acl.get("DefaultAction") or {"?": None}))
            yield failed(item["ARN"], f"{label} has no rules (default action {default})", item.record, rec,
                         region=item.region)
        elif problems := _missing_groups(acl):
            yield failed(item["ARN"], f"{label} {'; '.join(problems)}", item.record, rec, region=item.region)
        else:
            yield passed(item["ARN"], f"{label} enforces {' and '.join(REQUIRED_GROUPS)}", item.record, rec,
                         region=item.region)


@check("aws.wafv2.logging_enabled", severity=Severity.MEDIUM, resource_type="AwsWafv2WebAcl",
       title="Web ACLs send their logs to a destination",
       rationale="""WAF logs show which requests were blocked or allowed and why; without them attacks
       against public applications cannot be investigated or reviewed.""",
       remediation="""In the AWS WAF console open the web ACL, choose Logging and metrics > Enable and pick
       a CloudWatch Logs group, S3 bucket or Firehose stream named aws-waf-logs-*, or run
       `aws wafv2 put-logging-configuration`.""")
def logging_enabled(inv: AwsInventory) -> Iterator[Verdict]:
    acls, errors = _web_acls(inv)
    yield from errors
    for item in acls:
        label = f"web ACL {item.get('Name', item['ARN'])}"
        rec = inv.call("wafv2", "get_logging_configuration", item.region, ResourceArn=item["ARN"])
        why = unusable(rec, "get_logging_configuration")
        if rec is None or why:
            yield errored(item["ARN"], f"{label}: logging unknown: {why}", item.record, rec,
                          region=item.region)
            continue
        config = (rec.response or {}).get("LoggingConfiguration")
        if config:
            targets = ", ".join(config.get("LogDestinationConfigs") or ["?"])
            yield passed(item["ARN"], f"{label} logs to {targets}", item.record, rec, region=item.region)
        else:
            yield failed(item["ARN"], f"{label} has no logging configuration", item.record, rec,
                         region=item.region)


def _each_acl(inv: AwsInventory, judge: Callable[[dict[str, Any]], tuple[bool, str]]) -> Iterator[Verdict]:
    acls, errors = _web_acls(inv)
    yield from errors
    for item in acls:
        label = f"web ACL {item.get('Name', item['ARN'])}"
        rec = inv.call("wafv2", "get_web_acl", item.region, Name=item["Name"], Id=item["Id"],
                       Scope="REGIONAL")
        why = unusable(rec, "get_web_acl")
        acl = (rec.response or {}).get("WebACL") if rec is not None and not why else None
        if acl is None:
            yield errored(item["ARN"], f"{label}: rules unknown: {why or 'get_web_acl returned no WebACL'}",
                          item.record, rec, region=item.region)
            continue
        ok, detail = judge(acl)
        yield (passed if ok else failed)(item["ARN"], f"{label} {detail}", item.record, rec,
        region=item.region)


def blocking_rules(acl: dict[str, Any]) -> list[str]:
    """Names of rules that block: action Block, or a rule group not overridden to Count."""
    names = []
    for rule in acl.get("Rules") or []:
        override = rule.get("OverrideAction")
        if "Block" in (rule.get("Action") or {}) or (override is not None and "Count" not in override):
            names.append(str(rule.get("Name")))
    return names


@check("aws.wafv2.rules_block", severity=Severity.HIGH, resource_type="AwsWafv2WebAcl",
       title="Web ACLs have rules that block, not only count",
       rationale="""A web ACL whose rules only count requests detects attacks but stops none. Automated
       protection of public applications must actively block.""",
       remediation="""In the AWS WAF console open the web ACL's rules and set the rule actions to Block (or
       the rule groups' override to None), or set the default action to Block with explicit allow rules.""")
def rules_block(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(acl: dict[str, Any]) -> tuple[bool, str]:
        names = blocking_rules(acl)
        if names:
            return True, f"blocks with {', '.join(names)}"
        if "Block" in (acl.get("DefaultAction") or {}):
            return True, "blocks by default and allows only what its rules match"
        if not acl.get("Rules"):
            return False, "has no rules and allows everything by default"
        return False, "only counts: no rule blocks and the default action allows"
    yield from _each_acl(inv, judge)


@check("aws.wafv2.sqli_protection", severity=Severity.HIGH, resource_type="AwsWafv2WebAcl",
       title="Web ACLs block SQL injection",
       rationale="""SQL injection remains one of the commonest attacks on payment applications. A blocking
       SQL injection rule set stops it before it reaches the database layer.""",
       remediation="""Add the AWS managed SQL database rule group (AWSManagedRulesSQLiRuleSet) to the web ACL
       with its actions in effect, or a rule with an SQL injection match statement and action Block.""")
def sqli_protection(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(acl: dict[str, Any]) -> tuple[bool, str]:
        groups = aws_rule_groups(acl)
        if groups.get(SQLI_GROUP):
            return True, f"blocks SQL injection with {SQLI_GROUP}"
        if _blocking_match(acl, "SqliMatchStatement"):
            return True, "blocks SQL injection with its own rule"
        if SQLI_GROUP in groups:
            return False, f"only counts with {SQLI_GROUP} (override action Count)"
        return False, "has no rule blocking SQL injection"
    yield from _each_acl(inv, judge)
