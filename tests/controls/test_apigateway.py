from __future__ import annotations

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, broken, by_resource, inventory, ok, only, run

WAF = "aws.apigateway.waf_attached"
STAGE = f"arn:aws:apigateway:{REGION}::/restapis/a1/stages/prod"


def apis(*items: dict):
    return ok("apigateway", "get_rest_apis", {"items": list(items)})


def api(api_id: str = "a1", types: tuple[str, ...] = ("REGIONAL",)) -> dict:
    return {"id": api_id, "name": f"api-{api_id}", "endpointConfiguration": {"types": list(types)}}


def stages(*stage: dict, api_id: str = "a1"):
    return ok("apigateway", "get_stages", {"item": list(stage)}, restApiId=api_id)


def waf(response: dict, arn: str = STAGE):
    return ok("wafv2", "get_web_acl_for_resource", response, ResourceArn=arn)


CORE = {"Name": "core", "OverrideAction": {"None": {}}, "Statement": {"ManagedRuleGroupStatement": {
    "VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}}


def test_stage_with_a_blocking_web_acl_passes_and_without_fails():
    inv = inventory(apis(api()), stages({"stageName": "prod"}, {"stageName": "dev"}),
                    waf({"WebACL": {"Name": "api-acl", "Rules": [CORE]}}),
                    waf({}, STAGE.replace("prod", "dev")))
    found = by_resource(run(WAF, inv))
    assert found[STAGE].status is Status.PASS
    assert found[STAGE].reason == ("REST API api-a1 stage prod is protected by web ACL api-acl: "
                                   "AWSManagedRulesCommonRuleSet blocks")
    dev = found[STAGE.replace("prod", "dev")]
    assert dev.status is Status.FAIL and dev.reason == "REST API api-a1 stage dev has no WAF web ACL"


def test_a_stage_naming_its_web_acl_is_still_judged_by_the_acl_rules():
    counting = {**CORE, "OverrideAction": {"Count": {}}}
    inv = inventory(apis(api()), stages({"stageName": "prod", "webAclArn": "arn:aws:wafv2:acl"}),
                    waf({"WebACL": {"Name": "api-acl", "Rules": [counting]}}))
    finding = only(WAF, inv)
    assert finding.status is Status.FAIL and finding.resource_id == STAGE
    assert finding.reason.endswith("has web ACL api-acl, but it only counts with "
                                   "AWSManagedRulesCommonRuleSet (override action Count)")


def test_missing_wafv2_record_is_an_error():
    finding = only(WAF, inventory(apis(api()), stages({"stageName": "prod"})))
    assert finding.status is Status.ERROR
    assert "get_web_acl_for_resource was not collected" in finding.reason


def test_private_api_is_out_of_scope():
    assert run(WAF, inventory(apis(api(types=("PRIVATE",))))) == []


def test_stages_unknown_is_an_error_on_the_api():
    finding = only(WAF, inventory(apis(api()), broken("apigateway", "get_stages", restApiId="a1")))
    assert finding.status is Status.ERROR
    assert finding.resource_id == f"arn:aws:apigateway:{REGION}::/restapis/a1"


def test_listing_failure_is_an_error():
    finding = only(WAF, inventory(broken("apigateway", "get_rest_apis")))
    assert finding.status is Status.ERROR
    assert finding.resource_id == f"arn:aws:apigateway:{REGION}:{ACCOUNT}:/restapis/*"
