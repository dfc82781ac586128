"""AWS WAF checks: regional web ACLs carry AWS's baseline rule groups and log what they see."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import listing_errors, unusable
from controls.registry import Verdict, check, errored, failed, passed

REQUIRED_GROUPS = ("AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet")


def web_acl_verdict(inv: AwsInventory, arn: str, label: str, region: str, *evidence: Any) -> Verdict:
    """Whether wafv2 get_web_acl_for_resource found a web ACL protecting the resource `arn`."""
    rec = inv.call("wafv2", "get_web_acl_for_resource", region, ResourceArn=arn)
    why = unusable(rec, "get_web_acl_for_resource")
    if rec is None or why:
        return errored(arn, f"{label}: web ACL unknown: {why}", *evidence, rec, region=region)
    acl = (rec.response or {}).get("WebACL")
    if acl:
        return passed(arn, f"{label} is protected by web ACL {acl.get('Name') or acl.get('ARN')}",
                      *evidence, rec, region=region)
    return failed(arn, f"{label} has no WAF web ACL", *evidence, rec, region=region)


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
