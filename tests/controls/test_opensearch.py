"""OpenSearch checks over hand-built evidence, in the shapes moto's describe_domain returns."""

from __future__ import annotations

import json

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, broken, inventory, ok, only, run

AT_REST, NODES, HTTPS = ("aws.opensearch.encrypted_at_rest", "aws.opensearch.node_to_node_encryption",
                         "aws.opensearch.https_tls12")
PUBLIC, AUDIT = "aws.opensearch.not_public", "aws.opensearch.audit_logs"
ARN = f"arn:aws:es:{REGION}:{ACCOUNT}:domain/search"
OPEN_POLICY = json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": "*"}, "Action": "es:*"}]})


def domain(**status):
    return (ok("opensearch", "list_domain_names", {"DomainNames": [{"DomainName": "search"}]}),
            ok("opensearch", "describe_domain",
               {"DomainStatus": {"DomainName": "search", "ARN": ARN, **status}}, DomainName="search"))


HARDENED = {
    "EncryptionAtRestOptions": {"Enabled": True}, "NodeToNodeEncryptionOptions": {"Enabled": True},
    "DomainEndpointOptions": {"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-2-PFS-2023-10"},
    "VPCOptions": {"VPCId": "vpc-1", "SubnetIds": ["subnet-1"]}, "AccessPolicies": OPEN_POLICY,
    "LogPublishingOptions": {"AUDIT_LOGS": {"Enabled": True, "CloudWatchLogsLogGroupArn": "arn:logs"}},
}
DEFAULTS = {
    "EncryptionAtRestOptions": {"Enabled": False}, "NodeToNodeEncryptionOptions": {"Enabled": False},
    "DomainEndpointOptions": {"EnforceHTTPS": False, "TLSSecurityPolicy": "Policy-Min-TLS-1-0-2019-07"},
    "AccessPolicies": OPEN_POLICY,
}


@pytest.mark.parametrize("check_id", [AT_REST, NODES, HTTPS, PUBLIC, AUDIT])
def test_a_hardened_domain_passes_and_a_default_one_fails(check_id):
    good = only(check_id, inventory(*domain(**HARDENED)))
    assert good.status is Status.PASS and good.resource_id == ARN and len(good.evidence_ids) == 2
    assert only(check_id, inventory(*domain(**DEFAULTS))).status is Status.FAIL


@pytest.mark.parametrize("check_id", [AT_REST, NODES, HTTPS, PUBLIC, AUDIT])
def test_an_undescribed_domain_is_an_error(check_id):
    records = (*domain()[:1], broken("opensearch", "describe_domain", DomainName="search"))
    assert only(check_id, inventory(*records)).status is Status.ERROR
    assert only(check_id, inventory(*domain()[:1])).status is Status.ERROR


def test_https_with_an_old_policy_fails_and_unstated_options_are_errors():
    old = {"DomainEndpointOptions": {"EnforceHTTPS": True, "TLSSecurityPolicy": "Policy-Min-TLS-1-0-2019-07"}}
    assert "allows protocols older than TLS 1.2" in only(HTTPS, inventory(*domain(**old))).reason
    assert only(HTTPS, inventory(*domain())).status is Status.ERROR
    assert only(AT_REST, inventory(*domain())).status is Status.ERROR


def test_a_public_endpoint_with_a_narrow_policy_passes_and_an_unstated_one_is_an_error():
    named = json.dumps({"Statement": [{"Effect": "Allow", "Action": "es:ESHttpGet",
                                       "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:role/search-reader"}}]})
    finding = only(PUBLIC, inventory(*domain(AccessPolicies=named)))
    assert finding.status is Status.PASS and "grants nothing to everyone" in finding.reason
    assert only(PUBLIC, inventory(*domain())).status is Status.ERROR
    assert run(PUBLIC, inventory(broken("opensearch", "list_domain_names")))[0].resource_id == (
        f"arn:aws:es:{REGION}:{ACCOUNT}:domain/*")
