from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, broken, by_resource, inventory, ok, only, run

WAF = "aws.elbv2.waf_attached"
TLS = "aws.elbv2.listener_tls"
LB = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/shop/1"


def alb(arn: str = LB, name: str = "shop", scheme: str = "internet-facing",
        kind: str = "application") -> dict:
    return {"LoadBalancerArn": arn, "LoadBalancerName": name, "Scheme": scheme, "Type": kind}


def listing(*lbs: dict):
    return ok("elbv2", "describe_load_balancers", {"LoadBalancers": list(lbs)})


def listener(port: int, protocol: str, policy: str | None = None, actions: list | None = None) -> dict:
    item = {"ListenerArn": f"{LB.replace('loadbalancer', 'listener')}/{port}", "LoadBalancerArn": LB,
            "Port": port, "Protocol": protocol,
            "DefaultActions": actions or [{"Type": "forward", "TargetGroupArn": "tg"}]}
    if policy:
        item["SslPolicy"] = policy
    return item


def listeners(*items: dict):
    return ok("elbv2", "describe_listeners", {"Listeners": list(items)}, LoadBalancerArn=LB)


def waf(response: dict, arn: str = LB):
    return ok("wafv2", "get_web_acl_for_resource", response, ResourceArn=arn)


CORE = {"Name": "core", "OverrideAction": {"None": {}}, "Statement": {"ManagedRuleGroupStatement": {
    "VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}}
SQLI = {"Name": "sqli", "Action": {"Block": {}}, "Statement": {"SqliMatchStatement": {"FieldToMatch": {}}}}
XSS = {"Name": "xss", "Action": {"Block": {}}, "Statement": {"NotStatement": {"Statement": {
    "XssMatchStatement": {"FieldToMatch": {}}}}}}


def test_public_alb_with_a_blocking_web_acl_passes():
    finding = only(WAF, inventory(listing(alb()), waf({"WebACL": {"Name": "edge", "ARN": "arn:acl",
                                                                  "Rules": [CORE]}})))
    assert finding.status is Status.PASS
    assert finding.reason == ("load balancer shop is protected by web ACL edge: "
                              "AWSManagedRulesCommonRuleSet blocks")
    assert finding.resource_id == LB
    assert len(finding.evidence_ids) == 2
    own = only(WAF, inventory(listing(alb()), waf({"WebACL": {"Name": "edge", "Rules": [SQLI, XSS]}})))
    assert own.status is Status.PASS and "SQL injection and cross-site scripting" in own.reason


@pytest.mark.parametrize(("rules", "says"), [
    ([], "has no rule blocking common web attacks"),
    ([{**CORE, "OverrideAction": {"Count": {}}}], "only counts with AWSManagedRulesCommonRuleSet"),
    ([SQLI, {**XSS, "Action": {"Count": {}}}], "has no rule blocking common web attacks"),
])
def test_a_web_acl_that_does_not_block_common_attacks_fails_on_the_load_balancer(rules, says):
    finding = only(WAF, inventory(listing(alb()), waf({"WebACL": {"Name": "edge", "Rules": rules}})))
    assert finding.status is Status.FAIL and finding.resource_id == LB
    assert finding.reason.startswith("load balancer shop has web ACL edge, but it ")
    assert says in finding.reason


def test_a_web_acl_without_stated_rules_is_an_error():
    finding = only(WAF, inventory(listing(alb()), waf({"WebACL": {"Name": "edge"}})))
    assert finding.status is Status.ERROR and "edge" in finding.reason


def test_public_alb_without_web_acl_fails():
    finding = only(WAF, inventory(listing(alb()), waf({})))
    assert finding.status is Status.FAIL
    assert finding.reason == "load balancer shop has no WAF web ACL"


@pytest.mark.parametrize("records", [(), (broken("wafv2", "get_web_acl_for_resource", ResourceArn=LB),)])
def test_web_acl_unknown_is_an_error(records):
    finding = only(WAF, inventory(listing(alb()), *records))
    assert finding.status is Status.ERROR
    assert "web ACL unknown" in finding.reason


def test_internal_and_network_load_balancers_are_out_of_scope():
    inv = inventory(listing(alb(scheme="internal"), alb(arn="arn:nlb", kind="network")))
    assert run(WAF, inv) == []
    assert run(TLS, inv) == []


@pytest.mark.parametrize(("policy", "status"), [
    ("ELBSecurityPolicy-TLS13-1-2-2021-06", Status.PASS),
    ("ELBSecurityPolicy-TLS13-1-3-2021-06", Status.PASS),
    ("ELBSecurityPolicy-TLS-1-2-Ext-2018-06", Status.PASS),
    ("ELBSecurityPolicy-FS-1-2-Res-2020-10", Status.PASS),
    ("ELBSecurityPolicy-2016-08", Status.FAIL),
    ("ELBSecurityPolicy-TLS-1-1-2017-01", Status.FAIL),
    ("ELBSecurityPolicy-TLS13-1-0-2021-06", Status.FAIL),
    ("ELBSecurityPolicy-FS-2018-06", Status.FAIL),
    (None, Status.FAIL),
])
def test_https_listener_policy(policy, status):
    finding = only(TLS, inventory(listing(alb()), listeners(listener(443, "HTTPS", policy))))
    assert finding.status is status
    assert finding.resource_id.endswith("/443")
    assert finding.reason.startswith("load balancer shop listener HTTPS:443 uses TLS policy")


def test_http_listener_passes_only_when_it_redirects_to_https():
    redirect = [{"Type": "redirect", "RedirectConfig": {"Protocol": "HTTPS", "Port": "443"}}]
    to_http = [{"Type": "redirect", "RedirectConfig": {"Protocol": "#{protocol}", "Port": "8080"}}]
    inv = inventory(listing(alb()), listeners(listener(80, "HTTP", "ELBSecurityPolicy-2016-08", redirect),
                                              listener(8080, "HTTP", actions=to_http), listener(81, "HTTP")))
    found = {f.resource_id.rsplit("/", 1)[1]: f for f in run(TLS, inv)}
    assert found["80"].status is Status.PASS and found["80"].reason.endswith("only redirects to HTTPS")
    assert found["8080"].status is Status.FAIL
    assert found["81"].reason == "load balancer shop listener HTTP:81 serves traffic without TLS"


def test_listeners_unknown_is_an_error_on_the_load_balancer():
    found = by_resource(run(TLS, inventory(listing(alb()), broken("elbv2", "describe_listeners",
                                                                   LoadBalancerArn=LB))))
    assert found[LB].status is Status.ERROR


def test_listing_failure_is_an_error():
    finding = only(WAF, inventory(broken("elbv2", "describe_load_balancers")))
    assert finding.status is Status.ERROR
    assert finding.resource_id == f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/app/*"
