"""Lambda checks over hand-built evidence: public resource policies, deprecated runtimes, CDE functions
outside the VPC."""

from __future__ import annotations

import json

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, absent, broken, by_resource, inventory, ok, only, run

PUBLIC, RUNTIME, VPC = "aws.lambda.policy_not_public", "aws.lambda.supported_runtime", "aws.lambda.cde_in_vpc"


def arn(name: str) -> str:
    return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"


def functions(*fns: dict):
    return ok("lambda", "list_functions", {"Functions": [
        {"FunctionName": fn["name"], "FunctionArn": arn(fn["name"]),
         **{k: v for k, v in fn.items() if k != "name"}} for fn in fns]})


def policy(name: str, *statements: dict):
    body = {"Policy": json.dumps({"Version": "2012-10-17", "Statement": list(statements)})}
    return ok("lambda", "get_policy", body, FunctionName=name)


def no_policy(name: str):
    return absent("lambda", "get_policy", code="ResourceNotFoundException", FunctionName=name)


EVERYONE = {"Sid": "anyone", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunction"}
PUBLIC_URL = {"Sid": "url", "Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunctionUrl",
              "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}}
FROM_BUCKET = {"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
               "Action": "lambda:InvokeFunction",
               "Condition": {"ArnLike": {"AWS:SourceArn": "arn:aws:s3:::uploads"}}}


def test_invocation_by_anyone_or_an_open_function_url_fails():
    inv = inventory(functions({"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}),
                    policy("a", EVERYONE), policy("b", PUBLIC_URL), policy("c", FROM_BUCKET), no_policy("d"))
    found = by_resource(run(PUBLIC, inv))
    assert found[arn("a")].status is Status.FAIL
    assert found[arn("a")].reason == "function a can be invoked by anyone (statement anyone)"
    assert found[arn("b")].status is Status.FAIL
    assert found[arn("c")].status is Status.PASS and found[arn("d")].status is Status.PASS
    assert found[arn("d")].reason == "function d has no resource policy"
    assert len(found[arn("a")].evidence_ids) == 2


def test_policy_unknown_is_an_error():
    inv = inventory(functions({"name": "a"}), broken("lambda", "get_policy", FunctionName="a"))
    assert only(PUBLIC, inv).status is Status.ERROR
    assert only(PUBLIC, inventory(functions({"name": "a"}))).reason.endswith("get_policy was not collected")
    assert only(PUBLIC, inventory(broken("lambda", "list_functions"))).resource_id == arn("*")


@pytest.mark.parametrize(("runtime", "status", "says"), [
    ("python3.12", Status.PASS, "runs python3.12, supported until 2028-10-31"),
    ("python3.8", Status.FAIL, "runs python3.8, deprecated since 2024-10-14: no more security patches"),
    ("nodejs99.x", Status.PASS, "has no deprecation date in the runtime calendar"),
    (None, Status.ERROR, "does not state its runtime"),
])
def test_runtimes_are_judged_against_the_calendar_at_collection_time(runtime, status, says):
    fn = {"name": "a", **({"Runtime": runtime} if runtime else {})}
    finding = only(RUNTIME, inventory(functions(fn)))
    assert finding.status is status and says in finding.reason


def test_container_image_functions_are_left_to_the_image_scans():
    assert run(RUNTIME, inventory(functions({"name": "a", "PackageType": "Image"}))) == []


def tags(name: str, **values: str):
    return ok("lambda", "list_tags", {"Tags": values}, Resource=arn(name))


def test_cde_functions_must_sit_in_a_vpc_and_others_are_not_judged():
    in_vpc = {"name": "in", "VpcConfig": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": []}}
    inv = inventory(functions(in_vpc,
                              {"name": "out", "VpcConfig": {"SubnetIds": []}}, {"name": "other"}),
                    tags("in", **{"pci-scope": "true"}), tags("out", **{"data-classification": "cardholder"}),
                    tags("other", team="web"))
    found = by_resource(run(VPC, inv))
    assert set(found) == {arn("in"), arn("out")}
    assert found[arn("in")].status is Status.PASS and "subnet-1" in found[arn("in")].reason
    assert found[arn("out")].reason == ("function out is tagged as handling cardholder data but runs outside "
                                        "any VPC")
    assert found[arn("out")].status is Status.FAIL


def test_unknown_tags_are_an_error():
    finding = only(VPC, inventory(functions({"name": "a"}), broken("lambda", "list_tags", Resource=arn("a"))))
    assert finding.status is Status.ERROR and "whether it is in the CDE is unknown" in finding.reason
