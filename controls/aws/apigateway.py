"""API Gateway checks: every public REST API stage sits behind AWS WAF."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory
from controls.aws.verdicts import listing_errors, unusable
from controls.aws.wafv2 import web_acl_verdict
from controls.registry import Verdict, check, errored


def _is_private(api: dict) -> bool:
    return "PRIVATE" in ((api.get("endpointConfiguration") or {}).get("types") or [])


@check("aws.apigateway.waf_attached", severity=Severity.HIGH, resource_type="AwsApiGatewayStage",
       title="Public API Gateway stages sit behind a web ACL that blocks web attacks",
       rationale="""An API reachable from the internet needs the same filtering of injection, known bad
       inputs and abusive clients as a web site, before requests reach the backend.""",
       remediation="""In the API Gateway console open the stage and pick a regional web ACL under Web
       application firewall (WAF), or run `aws wafv2 associate-web-acl --web-acl-arn ... --resource-arn
       arn:aws:apigateway:REGION::/restapis/ID/stages/NAME`.""")
def waf_attached(inv: AwsInventory) -> Iterator[Verdict]:
    apis, failures = inv.listing("apigateway", "get_rest_apis", "items")
    yield from listing_errors(inv, failures, "apigateway", "/restapis/*",
                              arn=lambda region: f"arn:aws:apigateway:{region}:{inv.account_id}:/restapis/*")
    for api in (a for a in apis if not _is_private(a)):
        api_arn = f"arn:aws:apigateway:{api.region}::/restapis/{api['id']}"
        label = f"REST API {api.get('name', api['id'])}"
        stages = inv.call("apigateway", "get_stages", api.region, restApiId=api["id"])
        why = unusable(stages, "get_stages")
        if stages is None or why:
            yield errored(api_arn, f"{label}: stages unknown: {why}", api.record, stages, region=api.region)
            continue
        for stage in (stages.response or {}).get("item") or []:
            arn = f"{api_arn}/stages/{stage['stageName']}"
            stage_label = f"{label} stage {stage['stageName']}"
            yield web_acl_verdict(inv, arn, stage_label, api.region, api.record, stages)
