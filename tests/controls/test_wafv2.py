from __future__ import annotations

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, absent, broken, inventory, ok, only, run

RULES = "aws.wafv2.managed_rules"
LOGS = "aws.wafv2.logging_enabled"
ARN = f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/edge/1"
COMMON, BAD_INPUTS = "AWSManagedRulesCommonRuleSet", "AWSManagedRulesKnownBadInputsRuleSet"


def listing():
    acls = {"WebACLs": [{"Name": "edge", "Id": "1", "ARN": ARN}]}
    return ok("wafv2", "list_web_acls", acls, Scope="REGIONAL")


def managed(name: str, vendor: str = "AWS", count: bool = False) -> dict:
    return {"Name": name, "Priority": 0,
            "Statement": {"ManagedRuleGroupStatement": {"VendorName": vendor, "Name": name}},
            "OverrideAction": {"Count": {}} if count else {"None": {}}}


def acl(*rules: dict, **extra) -> object:
    body = {"Name": "edge", "Id": "1", "ARN": ARN, "DefaultAction": {"Allow": {}}, "Rules": list(rules),
            **extra}
    return ok("wafv2", "get_web_acl", {"WebACL": body, "LockToken": "t"}, Name="edge", Id="1",
              Scope="REGIONAL")


def test_both_aws_groups_pass():
    finding = only(RULES, inventory(listing(), acl(managed(COMMON), managed(BAD_INPUTS))))
    assert finding.status is Status.PASS
    assert finding.resource_id == ARN
    assert len(finding.evidence_ids) == 2


def test_missing_group_is_named():
    finding = only(RULES, inventory(listing(), acl(managed(COMMON), managed(BAD_INPUTS, vendor="Other"))))
    assert finding.status is Status.FAIL
    assert finding.reason == f"web ACL edge lacks {BAD_INPUTS}"


def test_group_in_count_mode_does_not_protect():
    finding = only(RULES, inventory(listing(), acl(managed(COMMON, count=True), managed(BAD_INPUTS))))
    assert finding.status is Status.FAIL
    assert finding.reason == f"web ACL edge only counts with {COMMON} (override action Count)"


def test_empty_acl_fails_even_when_it_blocks_by_default():
    finding = only(RULES, inventory(listing(), acl(DefaultAction={"Block": {}})))
    assert finding.status is Status.FAIL
    assert finding.reason == "web ACL edge has no rules (default action Block)"


def test_firewall_manager_groups_count():
    fms = [{"Name": n, "OverrideAction": {"None": {}},
            "FirewallManagerStatement": {"ManagedRuleGroupStatement": {"VendorName": "AWS", "Name": n}}}
           for n in (COMMON, BAD_INPUTS)]
    finding = only(RULES, inventory(listing(), acl(PreProcessFirewallManagerRuleGroups=fms)))
    assert finding.status is Status.PASS


def test_acl_unreadable_is_an_error():
    assert only(RULES, inventory(listing())).status is Status.ERROR
    broken_acl = broken("wafv2", "get_web_acl", Name="edge", Id="1", Scope="REGIONAL")
    finding = only(RULES, inventory(listing(), broken_acl))
    assert finding.status is Status.ERROR and "AccessDenied" in finding.reason
    empty = ok("wafv2", "get_web_acl", {}, Name="edge", Id="1", Scope="REGIONAL")
    assert "returned no WebACL" in only(RULES, inventory(listing(), empty)).reason


def test_logging_configured_passes_absent_fails_error_errors():
    destination = "arn:aws:logs:us-east-1:123456789012:log-group:aws-waf-logs-x"
    config = {"LoggingConfiguration": {"ResourceArn": ARN, "LogDestinationConfigs": [destination]}}
    passing = only(LOGS, inventory(listing(), ok("wafv2", "get_logging_configuration", config,
                                                 ResourceArn=ARN)))
    assert passing.status is Status.PASS and passing.reason == f"web ACL edge logs to {destination}"
    missing = absent("wafv2", "get_logging_configuration", code="WAFNonexistentItemException",
                     ResourceArn=ARN)
    failing = only(LOGS, inventory(listing(), missing))
    assert failing.status is Status.FAIL and failing.reason == "web ACL edge has no logging configuration"
    assert only(LOGS, inventory(listing())).status is Status.ERROR


def test_listing_failure_and_no_acls():
    finding = only(LOGS, inventory(broken("wafv2", "list_web_acls", Scope="REGIONAL")))
    assert finding.status is Status.ERROR
    assert finding.resource_id == f"arn:aws:wafv2:{REGION}:{ACCOUNT}:regional/webacl/*"
    assert run(RULES, inventory(ok("wafv2", "list_web_acls", {"WebACLs": []}, Scope="REGIONAL"))) == []
