"""Lambda checks: no function can be invoked by everyone, every function runs on a runtime AWS still
patches, and functions that handle cardholder data run inside the VPC."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliance.collect.record import Outcome
from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.s3 import holds_cardholder_data
from controls.aws.support_calendar import LAMBDA_DEPRECATED
from controls.aws.verdicts import (
    Judgement,
    Listing,
    answer,
    bad,
    each,
    good,
    unknown,
    when,
)
from controls.aws.verdicts import (
    public_statements as any_principal_statements,
)
from controls.registry import Verdict, check

FUNCTIONS = Listing("lambda", "list_functions", "Functions", "function:*",
                    arn=lambda inv, fn: fn.get("FunctionArn") or inv.arn("lambda", fn.region,
                                                                          f"function:{fn.get('FunctionName')}"),
                    label=lambda fn: f"function {fn.get('FunctionName', '?')}")

URL_AUTH_KEY = "lambda:functionurlauthtype"
"""The only condition that does not narrow who may call: a function URL's auth type (NONE is public)."""


def public_statements(document: Any) -> list[dict[str, Any]]:
    """Statements letting anyone invoke the function (a function URL with auth type NONE is public even
    though it is written as a condition)."""
    return any_principal_statements(document, not_narrowing=frozenset({URL_AUTH_KEY}))


@check("aws.lambda.policy_not_public", severity=Severity.HIGH, resource_type="AwsLambdaFunction",
       title="Lambda functions cannot be invoked by everyone",
       rationale="""A resource policy granting any principal (or a function URL without authentication) lets
       anyone on the internet run the function with its role's permissions, which for a payment function
       may include card data stores and keys.""",
       remediation="""Remove the statement with `aws lambda remove-permission --function-name NAME
       --statement-id ID`, or narrow it to a named principal with a SourceArn/SourceAccount condition; give
       function URLs the AWS_IAM auth type.""")
def policy_not_public(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(fn: Item) -> Judgement:
        rec, why = answer(inv, fn, "lambda", "get_policy", FunctionName=fn["FunctionName"])
        if why:
            return unknown(f"resource policy unknown: {why}", rec)
        if rec.outcome is Outcome.ABSENT:  # type: ignore[union-attr]
            return good("has no resource policy", rec)
        found = public_statements((rec.response or {}).get("Policy"))  # type: ignore[union-attr]
        if found:
            sids = ", ".join(str(st.get("Sid") or "unnamed") for st in found)
            return bad(f"can be invoked by anyone (statement {sids})", rec)
        return good("has a resource policy that names its callers", rec)

    yield from each(inv, FUNCTIONS, judge)


@check("aws.lambda.supported_runtime", severity=Severity.HIGH, resource_type="AwsLambdaFunction",
       title="Lambda functions run on a runtime AWS still patches",
       rationale="""After a runtime's deprecation date AWS stops applying security patches to its language
       and operating system, so a function left on it keeps every vulnerability found since.""",
       remediation="""Move the function to a supported runtime (`aws lambda update-function-configuration
       --function-name NAME --runtime python3.13`, for example), test it and publish a new version.""")
def supported_runtime(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(fn: Item) -> Judgement | None:
        runtime = fn.get("Runtime")
        if not runtime:
            if fn.get("PackageType") == "Image":
                return None  # a container image: its base image is judged by the image scans
            return unknown("does not state its runtime")
        collected = when(fn.record.collected_at)
        deprecated = LAMBDA_DEPRECATED.get(str(runtime))
        if collected is None:
            return unknown("has no collection time to judge its runtime against")
        if deprecated is None:
            return good(f"runs {runtime}, which has no deprecation date in the runtime calendar")
        if collected.date() >= deprecated:
            return bad(f"runs {runtime}, deprecated since {deprecated}: no more security patches")
        return good(f"runs {runtime}, supported until {deprecated}")

    yield from each(inv, FUNCTIONS, judge)


@check("aws.lambda.cde_in_vpc", severity=Severity.MEDIUM, resource_type="AwsLambdaFunction",
       title="Lambda functions tagged as handling cardholder data run inside a VPC",
       rationale="""A function that touches cardholder data is part of the CDE; attached to the VPC its
       traffic passes through the security groups, network ACLs and flow logs that segment the CDE, instead
       of leaving from the Lambda service's own network. Functions not tagged as in scope are not judged.""",
       remediation="""Attach the function to private CDE subnets and a security group (`aws lambda
       update-function-configuration --vpc-config SubnetIds=...,SecurityGroupIds=...`), reaching AWS
       services through VPC endpoints.""")
def cde_in_vpc(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(fn: Item) -> Judgement | None:
        rec, why = answer(inv, fn, "lambda", "list_tags", Resource=fn.get("FunctionArn"))
        if why:
            return unknown(f"tags unknown, so whether it is in the CDE is unknown: {why}", rec)
        tags = (rec.response or {}).get("Tags") or {}  # type: ignore[union-attr]
        if not holds_cardholder_data([{"Key": k, "Value": v} for k, v in tags.items()]):
            return None
        subnets = (fn.get("VpcConfig") or {}).get("SubnetIds") or []
        if subnets:
            return good(f"handles cardholder data inside a VPC (subnets {', '.join(subnets)})", rec)
        return bad("is tagged as handling cardholder data but runs outside any VPC", rec)

    yield from each(inv, FUNCTIONS, judge)
