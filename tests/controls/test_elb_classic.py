"""Classic Load Balancer checks over hand-built evidence (moto's shapes: see tests/collect)."""

from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, broken, by_resource, inventory, ok, only, run

TLS, LOGS, DESYNC = "aws.elb.listener_tls", "aws.elb.access_logs", "aws.elb.desync_mitigation"


def arn(name: str) -> str:
    return f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/{name}"


def lbs(*items: dict):
    return ok("elb", "describe_load_balancers", {"LoadBalancerDescriptions": list(items)})


def lb(name: str, *listeners: tuple[str, int, list[str]], scheme: str = "internet-facing") -> dict:
    return {"LoadBalancerName": name, "Scheme": scheme, "ListenerDescriptions": [
        {"Listener": {"Protocol": proto, "LoadBalancerPort": port}, "PolicyNames": names}
        for proto, port, names in listeners]}


def policies(name: str, *described: tuple[str, dict[str, str]]):
    body = {"PolicyDescriptions": [
        {"PolicyName": pname, "PolicyTypeName": "SSLNegotiationPolicyType",
         "PolicyAttributeDescriptions": [{"AttributeName": k, "AttributeValue": v} for k, v in attrs.items()]}
        for pname, attrs in described]}
    return ok("elb", "describe_load_balancer_policies", body, LoadBalancerName=name)


MODERN = ("tls12", {"Reference-Security-Policy": "ELBSecurityPolicy-TLS-1-2-2017-01"})
DEFAULT = ("old", {"Reference-Security-Policy": "ELBSecurityPolicy-2016-08", "Protocol-TLSv1": "true"})


def test_https_listeners_with_a_tls_1_2_policy_pass_and_plain_or_old_ones_fail():
    inv = inventory(
        lbs(lb("good", ("HTTPS", 443, ["tls12"]), ("SSL", 8443, ["tls12"])),
            lb("plain", ("HTTPS", 443, ["tls12"]), ("HTTP", 80, [])),
            lb("old", ("HTTPS", 443, ["old"])),
            lb("bare", ("HTTPS", 443, [])),
            lb("inside", ("HTTP", 80, []), scheme="internal")),
        policies("good", MODERN), policies("old", DEFAULT), policies("bare"))
    found = by_resource(run(TLS, inv))
    assert set(found) == {arn(n) for n in ("good", "plain", "old", "bare")}  # internal: out of scope
    assert found[arn("good")].status is Status.PASS
    assert found[arn("plain")].reason == "classic load balancer plain has listeners without TLS: HTTP:80"
    assert found[arn("old")].status is Status.FAIL and "which allows TLSv1" in found[arn("old")].reason
    assert "no SSL negotiation policy" in found[arn("bare")].reason
    assert found[arn("bare")].status is Status.FAIL
    assert len(found[arn("good")].evidence_ids) == 2


def test_unreadable_policies_are_an_error():
    inv = inventory(lbs(lb("x", ("HTTPS", 443, ["custom"]))), broken("elb", "describe_load_balancer_policies",
                                                                     LoadBalancerName="x"))
    assert only(TLS, inv).status is Status.ERROR
    unclear = inventory(lbs(lb("x", ("HTTPS", 443, ["custom"]))), policies("x", ("custom", {})))
    assert "whose protocols the answer does not state" in only(TLS, unclear).reason


def attributes(name: str, **attrs):
    body = {"LoadBalancerAttributes": attrs}
    return ok("elb", "describe_load_balancer_attributes", body, LoadBalancerName=name)


@pytest.mark.parametrize(("attrs", "logs", "desync"), [
    ({"AccessLog": {"Enabled": True, "S3BucketName": "logs"},
      "AdditionalAttributes": [{"Key": "elb.http.desyncmitigationmode", "Value": "strictest"}]},
     Status.PASS, Status.PASS),
    ({"AccessLog": {"Enabled": False},
      "AdditionalAttributes": [{"Key": "elb.http.desyncmitigationmode", "Value": "monitor"}]},
     Status.FAIL, Status.FAIL),
    ({"AdditionalAttributes": []}, Status.ERROR, Status.ERROR),
])
def test_access_logs_and_desync_mode_read_the_attributes(attrs, logs, desync):
    inv = inventory(lbs(lb("x", ("HTTPS", 443, []), scheme="internal")), attributes("x", **attrs))
    assert only(LOGS, inv).status is logs
    assert only(DESYNC, inv).status is desync
    assert only(LOGS, inv).resource_id == arn("x")


def test_attributes_or_listing_unknown_is_an_error():
    inv = inventory(lbs(lb("x")), broken("elb", "describe_load_balancer_attributes", LoadBalancerName="x"))
    assert only(LOGS, inv).status is Status.ERROR and "attributes unknown" in only(LOGS, inv).reason
    listing = only(DESYNC, inventory(broken("elb", "describe_load_balancers")))
    assert listing.status is Status.ERROR and listing.resource_id == arn("*")
