from __future__ import annotations

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, broken, by_resource, inventory, ok, only, run

WAF = "aws.apigateway.waf_attached"
STAGE = f"arn:aws:apigateway:{REGION}::/restapis/a1/stages/prod"
"""The stage's own ARN, which WAF is asked about."""
STAGE_ID = f"arn:aws:apigateway:{REGION}:{ACCOUNT}:/restapis/a1/stages/prod"
"""The finding's resource id: the same ARN with the account, unique across an organisation."""


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
    assert found[STAGE_ID].status is Status.PASS
    assert found[STAGE_ID].reason == ("REST API api-a1 stage prod is protected by web ACL api-acl: "
                                   "AWSManagedRulesCommonRuleSet blocks")
    dev = found[STAGE_ID.replace("prod", "dev")]
    assert dev.status is Status.FAIL and dev.reason == "REST API api-a1 stage dev has no WAF web ACL"


def test_a_stage_naming_its_web_acl_is_still_judged_by_the_acl_rules():
    counting = {**CORE, "OverrideAction": {"Count": {}}}
    inv = inventory(apis(api()), stages({"stageName": "prod", "webAclArn": "arn:aws:wafv2:acl"}),
                    waf({"WebACL": {"Name": "api-acl", "Rules": [counting]}}))
    finding = only(WAF, inv)
    assert finding.status is Status.FAIL and finding.resource_id == STAGE_ID
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
    assert finding.resource_id == f"arn:aws:apigateway:{REGION}:{ACCOUNT}:/restapis/a1"


def test_listing_failure_is_an_error():
    finding = only(WAF, inventory(broken("apigateway", "get_rest_apis")))
    assert finding.status is Status.ERROR
    assert finding.resource_id == f"arn:aws:apigateway:{REGION}:{ACCOUNT}:/restapis/*"


LOGS, AUTH, DOMAIN = ("aws.apigateway.access_logging", "aws.apigateway.method_authorization",
                      "aws.apigateway.domain_tls")
LOG_GROUP = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:api-access"


def test_every_stage_of_every_api_writes_access_logs_private_ones_too():
    inv = inventory(apis(api(types=("PRIVATE",))),
                    stages({"stageName": "prod", "accessLogSettings": {"destinationArn": LOG_GROUP,
                                                                       "format": "$context.requestId"}},
                           {"stageName": "dev", "accessLogSettings": {"format": "$context.requestId"}}))
    found = by_resource(run(LOGS, inv))
    assert found[STAGE_ID].status is Status.PASS and LOG_GROUP in found[STAGE_ID].reason
    dev = found[STAGE_ID.replace("prod", "dev")]
    assert dev.status is Status.FAIL and dev.reason == "REST API api-a1 stage dev writes no access logs"
    assert len(dev.evidence_ids) == 2


def test_access_logging_errors_when_stages_or_apis_cannot_be_read():
    assert only(LOGS, inventory(apis(api()))).reason.endswith("stages unknown: get_stages was not collected")
    assert only(LOGS, inventory(broken("apigateway", "get_rest_apis"))).status is Status.ERROR


def resources(*items: dict, api_id: str = "a1"):
    return ok("apigateway", "get_resources", {"items": list(items)}, restApiId=api_id, embed=["methods"])


def method_id(resource: str, verb: str) -> str:
    return f"arn:aws:apigateway:{REGION}:{ACCOUNT}:/restapis/a1/resources/{resource}/methods/{verb}"


def test_a_method_without_authorisation_fails_and_cors_preflight_is_left_alone():
    inv = inventory(apis(api()), resources(
        {"id": "r0", "path": "/"},
        {"id": "r1", "path": "/pay", "resourceMethods": {
            "POST": {"httpMethod": "POST", "authorizationType": "NONE", "apiKeyRequired": True},
            "GET": {"httpMethod": "GET", "authorizationType": "COGNITO_USER_POOLS"},
            "OPTIONS": {"httpMethod": "OPTIONS", "authorizationType": "NONE"},
            "PUT": {}}}))
    found = by_resource(run(AUTH, inv))
    assert set(found) == {method_id("r1", verb) for verb in ("POST", "GET", "PUT")}
    post = found[method_id("r1", "POST")]
    assert post.status is Status.FAIL
    assert post.reason == ("REST API api-a1 POST /pay requires no authorisation (it requires an API key, but "
                           "a key identifies a usage plan, not a caller)")
    assert found[method_id("r1", "GET")].status is Status.PASS
    assert found[method_id("r1", "PUT")].status is Status.ERROR


def test_method_authorisation_errors_when_resources_cannot_be_read():
    finding = only(AUTH, inventory(apis(api()), broken("apigateway", "get_resources", restApiId="a1",
                                                       embed=["methods"])))
    assert finding.status is Status.ERROR and "resources unknown" in finding.reason
    assert finding.resource_id == f"arn:aws:apigateway:{REGION}:{ACCOUNT}:/restapis/a1"


def domains(*items: dict):
    return ok("apigateway", "get_domain_names", {"items": list(items)})


def test_custom_domains_need_a_tls_1_2_policy():
    inv = inventory(domains({"domainName": "api.example", "securityPolicy": "TLS_1_2"},
                            {"domainName": "old.example", "securityPolicy": "TLS_1_0"},
                            {"domainName": "new.example",
                             "securityPolicy": "SecurityPolicy_TLS13_1_3_2025_09"},
                            {"domainName": "odd.example"}))
    found = {f.resource_id.rsplit("/", 1)[1]: f for f in run(DOMAIN, inv)}
    assert found["api.example"].status is Status.PASS and found["new.example"].status is Status.PASS
    assert found["old.example"].status is Status.FAIL
    assert found["old.example"].reason == ("custom domain old.example uses security policy TLS_1_0, which "
                                           "allows protocols older than TLS 1.2")
    assert found["odd.example"].status is Status.ERROR
    assert found["old.example"].resource_id == (
        f"arn:aws:apigateway:{REGION}:{ACCOUNT}:/domainnames/old.example")
    listing = only(DOMAIN, inventory(broken("apigateway", "get_domain_names")))
    assert listing.status is Status.ERROR
