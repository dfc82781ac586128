"""API Gateway checks: every public REST API stage sits behind AWS WAF and writes access logs, every method
asks for authorisation, and custom domains accept only TLS 1.2 or later."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import Judgement, Listing, bad, each, good, listing_errors, unknown, unusable
from controls.aws.wafv2 import web_acl_verdict
from controls.registry import Verdict, check, errored, failed, passed

OPEN_METHODS = ("OPTIONS",)
"""Methods that may answer without authorisation: CORS preflight carries no credentials by design."""
MODERN_DOMAIN_POLICY = re.compile(r"TLS_1_2|TLS_1_3|TLS1[23]")
"""Custom domain security policies whose lowest protocol is TLS 1.2 (TLS_1_2 and the newer enhanced
SecurityPolicy_TLS13_* / SecurityPolicy_TLS12_* names); TLS_1_0 is the old default."""


def _is_private(api: dict) -> bool:
    return "PRIVATE" in ((api.get("endpointConfiguration") or {}).get("types") or [])


def api_id(inv: AwsInventory, region: str, path: str) -> str:
    """A finding's resource id for an API Gateway resource: the ARN form with the account, because API
    Gateway's own ARNs (``arn:aws:apigateway:REGION::/restapis/...``) leave it out."""
    return inv.arn("apigateway", region, path)


def _apis(inv: AwsInventory) -> tuple[list[Item], Iterator[Verdict]]:
    apis, failures = inv.listing("apigateway", "get_rest_apis", "items")
    return apis, listing_errors(inv, failures, "apigateway", "/restapis/*")


def _label(api: Item) -> str:
    return f"REST API {api.get('name', api['id'])}"


def _stages(inv: AwsInventory, apis: list[Item]) -> Iterator[tuple[Item, dict[str, Any], Any] | Verdict]:
    """Every stage of the given APIs with the record it came from, or an ERROR on an API whose stages are
    unknown."""
    for api in apis:
        stages = inv.call("apigateway", "get_stages", api.region, restApiId=api["id"])
        why = unusable(stages, "get_stages")
        if stages is None or why:
            yield errored(api_id(inv, api.region, f"/restapis/{api['id']}"),
                          f"{_label(api)}: stages unknown: {why}", api.record, stages, region=api.region)
            continue
        for stage in (stages.response or {}).get("item") or []:
            yield api, stage, stages


@check("aws.apigateway.waf_attached", severity=Severity.HIGH, resource_type="AwsApiGatewayStage",
       title="Public API Gateway stages sit behind a web ACL that blocks web attacks",
       rationale="""An API reachable from the internet needs the same filtering of injection, known bad
       inputs and abusive clients as a web site, before requests reach the backend.""",
       remediation="""In the API Gateway console open the stage and pick a regional web ACL under Web
       application firewall (WAF), or run `aws wafv2 associate-web-acl --web-acl-arn ... --resource-arn
       arn:aws:apigateway:REGION::/restapis/ID/stages/NAME`.""")
def waf_attached(inv: AwsInventory) -> Iterator[Verdict]:
    apis, errors = _apis(inv)
    yield from errors
    for found in _stages(inv, [a for a in apis if not _is_private(a)]):
        if isinstance(found, Verdict):
            yield found
            continue
        api, stage, stages = found
        path = f"/restapis/{api['id']}/stages/{stage['stageName']}"
        # WAF is asked about the stage's own ARN; the finding carries the account as well
        real_arn = f"arn:aws:apigateway:{api.region}::{path}"
        verdict = web_acl_verdict(inv, real_arn, f"{_label(api)} stage {stage['stageName']}", api.region,
                                  api.record, stages)
        yield replace(verdict, resource_id=api_id(inv, api.region, path))


@check("aws.apigateway.access_logging", severity=Severity.MEDIUM, resource_type="AwsApiGatewayStage",
       title="API Gateway stages write access logs",
       rationale="""Access logs record each request's caller, source address, method, path and status: the
       audit trail of who used the payment API and how, which execution logs alone do not give.""",
       remediation="""In the stage's Logs and tracing settings turn on custom access logging to a CloudWatch
       log group (or Firehose), or run `aws apigateway update-stage --patch-operations
       op=replace,path=/accessLogSettings/destinationArn,value=LOG_GROUP_ARN` with a format.""")
def access_logging(inv: AwsInventory) -> Iterator[Verdict]:
    apis, errors = _apis(inv)
    yield from errors
    for found in _stages(inv, apis):
        if isinstance(found, Verdict):
            yield found
            continue
        api, stage, stages = found
        arn = api_id(inv, api.region, f"/restapis/{api['id']}/stages/{stage['stageName']}")
        label = f"{_label(api)} stage {stage['stageName']}"
        settings = stage.get("accessLogSettings") or {}
        if settings.get("destinationArn"):
            yield passed(arn, f"{label} writes access logs to {settings['destinationArn']}", api.record,
                         stages, region=api.region)
        else:
            yield failed(arn, f"{label} writes no access logs", api.record, stages, region=api.region)


@check("aws.apigateway.method_authorization", severity=Severity.HIGH, resource_type="AwsApiGatewayMethod",
       title="Every API Gateway method other than CORS preflight requires authorisation",
       rationale="""A method whose authorisation type is NONE runs for any caller who can reach it; an API
       key is a usage plan token, not an identity. Each operation of the payment API must check who is
       calling (IAM, a Cognito user pool or a Lambda authoriser).""",
       remediation="""Set an authoriser on the method (`aws apigateway update-method --patch-operations
       op=replace,path=/authorizationType,value=AWS_IAM` or COGNITO_USER_POOLS / CUSTOM with an
       authorizerId) and redeploy the stage.""")
def method_authorization(inv: AwsInventory) -> Iterator[Verdict]:
    apis, errors = _apis(inv)
    yield from errors
    for api in apis:
        resources = inv.call("apigateway", "get_resources", api.region, restApiId=api["id"],
                             embed=["methods"])
        why = unusable(resources, "get_resources")
        if resources is None or why:
            yield errored(api_id(inv, api.region, f"/restapis/{api['id']}"),
                          f"{_label(api)}: resources unknown: {why}", api.record, resources,
                          region=api.region)
            continue
        for resource in (resources.response or {}).get("items") or []:
            for verb, method in sorted((resource.get("resourceMethods") or {}).items()):
                if verb.upper() not in OPEN_METHODS:
                    yield _method_verdict(inv, api, resource, verb, method or {}, resources)


def _method_verdict(inv: AwsInventory, api: Item, resource: dict[str, Any], verb: str, method: dict[str, Any],
                    resources: Any) -> Verdict:
    path = f"/restapis/{api['id']}/resources/{resource.get('id')}/methods/{verb}"
    arn, label = api_id(inv, api.region, path), f"{_label(api)} {verb} {resource.get('path', '?')}"
    kind, evidence = method.get("authorizationType"), (api.record, resources)
    if not kind:
        return errored(arn, f"{label}: the answer does not state its authorisation type", *evidence,
                       region=api.region)
    if kind == "NONE":
        key = (" (it requires an API key, but a key identifies a usage plan, not a caller)"
               if method.get("apiKeyRequired") else "")
        return failed(arn, f"{label} requires no authorisation{key}", *evidence, region=api.region)
    return passed(arn, f"{label} requires {kind} authorisation", *evidence, region=api.region)


DOMAINS = Listing("apigateway", "get_domain_names", "items", "/domainnames/*",
                  arn=lambda inv, domain: api_id(inv, domain.region, f"/domainnames/{domain['domainName']}"),
                  label=lambda domain: f"custom domain {domain.get('domainName', '?')}")


@check("aws.apigateway.domain_tls", severity=Severity.HIGH, resource_type="AwsApiGatewayDomainName",
       title="API Gateway custom domains accept only TLS 1.2 or later",
       rationale="""Card data sent to the API crosses public networks and must use strong cryptography; the
       TLS_1_0 security policy still lets clients negotiate TLS 1.0 and 1.1, which are obsolete.""",
       remediation="""Run `aws apigateway update-domain-name --domain-name NAME --patch-operations
       op=replace,path=/securityPolicy,value=TLS_1_2` (or choose TLS 1.2 in the console's custom domain
       settings).""")
def domain_tls(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(domain: Item) -> Judgement:
        policy = domain.get("securityPolicy")
        if not policy:
            return unknown("does not state its TLS security policy")
        if MODERN_DOMAIN_POLICY.search(str(policy)):
            return good(f"uses security policy {policy} (TLS 1.2 or later)")
        return bad(f"uses security policy {policy}, which allows protocols older than TLS 1.2")

    yield from each(inv, DOMAINS, judge)
