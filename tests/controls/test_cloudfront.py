"""CloudFront checks over hand-built evidence in the shapes moto's get_distribution_config returns."""

from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, broken, inventory, ok, only, run

HTTPS, TLS, ORIGIN = ("aws.cloudfront.viewer_https", "aws.cloudfront.viewer_tls",
                      "aws.cloudfront.origin_protection")
WAF, LOGS = "aws.cloudfront.waf_attached", "aws.cloudfront.access_logging"
ARN = f"arn:aws:cloudfront::{ACCOUNT}:distribution/E1"
ACL_ARN = f"arn:aws:wafv2:us-east-1:{ACCOUNT}:global/webacl/edge-acl/a1"
CORE = {"Name": "core", "OverrideAction": {"None": {}}, "Statement": {"ManagedRuleGroupStatement": {
    "VendorName": "AWS", "Name": "AWSManagedRulesCommonRuleSet"}}}


def distribution(**config):
    listing = ok("cloudfront", "list_distributions", {"DistributionList": {"Items": [
        {"Id": "E1", "ARN": ARN, "DomainName": "d1.cloudfront.net"}]}}, region=None)
    return listing, ok("cloudfront", "get_distribution_config", {"DistributionConfig": config}, region=None,
                       Id="E1")


def acls(*rules: dict, listed: bool = True):
    records = [ok("wafv2", "list_web_acls", {"WebACLs": [{"Name": "edge-acl", "Id": "a1", "ARN": ACL_ARN}]},
                  region=None, Scope="CLOUDFRONT")] if listed else []
    body = {"WebACL": {"Name": "edge-acl", "ARN": ACL_ARN, "Rules": list(rules)}}
    records.append(ok("wafv2", "get_web_acl", body, region=None, Name="edge-acl", Id="a1",
                      Scope="CLOUDFRONT"))
    return records


S3 = {"Id": "assets", "DomainName": "assets.s3.us-east-1.amazonaws.com", "OriginAccessControlId": "OAC1",
      "S3OriginConfig": {"OriginAccessIdentity": ""}}
API = {"Id": "api", "DomainName": "api.pay.example",
       "CustomOriginConfig": {"OriginProtocolPolicy": "https-only"}}
HARDENED = {
    "DefaultCacheBehavior": {"ViewerProtocolPolicy": "redirect-to-https"},
    "CacheBehaviors": {"Items": [{"PathPattern": "/api/*", "ViewerProtocolPolicy": "https-only"}]},
    "ViewerCertificate": {"CloudFrontDefaultCertificate": False, "MinimumProtocolVersion": "TLSv1.2_2021"},
    "Origins": {"Items": [S3, API]},
    "WebACLId": ACL_ARN,
    "Logging": {"Enabled": True, "Bucket": "edge-logs.s3.amazonaws.com"},
}
WEAK = {
    "DefaultCacheBehavior": {"ViewerProtocolPolicy": "allow-all"},
    "ViewerCertificate": {"CloudFrontDefaultCertificate": True, "MinimumProtocolVersion": "TLSv1"},
    "Origins": {"Items": [{**S3, "OriginAccessControlId": ""},
                          {**API, "CustomOriginConfig": {"OriginProtocolPolicy": "match-viewer"}}]},
    "WebACLId": "",
    "Logging": {"Enabled": False, "Bucket": ""},
}


@pytest.mark.parametrize("check_id", [HTTPS, TLS, ORIGIN, WAF, LOGS])
def test_a_hardened_distribution_passes_and_a_default_one_fails(check_id):
    good = only(check_id, inventory(*distribution(**HARDENED), *acls(CORE)))
    assert good.status is Status.PASS and good.resource_id == ARN and good.region is None
    bad = only(check_id, inventory(*distribution(**WEAK), *acls(CORE)))
    assert bad.status is Status.FAIL


@pytest.mark.parametrize("check_id", [HTTPS, TLS, ORIGIN, WAF, LOGS])
def test_an_unreadable_configuration_or_listing_is_an_error(check_id):
    listing = distribution()[0]
    assert only(check_id, inventory(listing)).status is Status.ERROR
    failed = only(check_id, inventory(broken("cloudfront", "list_distributions", region=None)))
    assert failed.status is Status.ERROR
    assert failed.resource_id == f"arn:aws:cloudfront::{ACCOUNT}:distribution/*"
    assert only(check_id, inventory(*distribution())).status is Status.ERROR


def test_failures_name_what_is_wrong():
    inv = inventory(*distribution(**WEAK))
    assert only(HTTPS, inv).reason.endswith("serves plain HTTP on cache behaviour(s) default (allow-all)")
    assert "default *.cloudfront.net certificate" in only(TLS, inv).reason
    origin = only(ORIGIN, inv).reason
    assert ("origin assets (assets.s3.us-east-1.amazonaws.com) is an S3 bucket read without origin access"
            in origin)
    assert "origin api (api.pay.example) is fetched with protocol policy match-viewer" in origin
    old = inventory(*distribution(ViewerCertificate={"MinimumProtocolVersion": "TLSv1_2016"}))
    assert only(TLS, old).reason.endswith("accepts viewers down to TLSv1_2016, older than TLS 1.2")


def test_the_web_acl_must_block_and_must_be_readable():
    counting = {**CORE, "OverrideAction": {"Count": {}}}
    finding = only(WAF, inventory(*distribution(**HARDENED), *acls(counting)))
    assert finding.status is Status.FAIL and "has web ACL edge-acl, but it only counts" in finding.reason
    passing = only(WAF, inventory(*distribution(**HARDENED), *acls(CORE)))
    assert passing.reason.endswith("is protected by web ACL edge-acl: AWSManagedRulesCommonRuleSet blocks")
    assert len(passing.evidence_ids) == 4
    unlisted = only(WAF, inventory(*distribution(**HARDENED), *acls(CORE, listed=False)))
    assert unlisted.status is Status.ERROR
    classic = only(WAF, inventory(*distribution(**{**HARDENED, "WebACLId": "0123-classic"})))
    assert classic.status is Status.ERROR and "WAF Classic" in classic.reason


def test_an_origin_behind_a_vpc_origin_or_identity_passes():
    origins = {"Items": [{"Id": "vpc", "DomainName": "internal", "VpcOriginConfig": {"VpcOriginId": "v1"}},
                         {"Id": "old", "DomainName": "b.s3.amazonaws.com",
                          "S3OriginConfig": {"OriginAccessIdentity": "origin-access-identity/cloudfront/X"}}]}
    assert only(ORIGIN, inventory(*distribution(Origins=origins))).status is Status.PASS


def test_no_distributions_means_no_findings():
    empty = ok("cloudfront", "list_distributions", {"DistributionList": {"Quantity": 0}}, region=None)
    assert run(HTTPS, inventory(empty)) == []
