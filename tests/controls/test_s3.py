from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, absent, broken, by_resource, inventory, ok, only, run

ENC = "aws.s3.bucket_encrypted"


def buckets(*names: str):
    return ok("s3", "list_buckets", {"Buckets": [{"Name": n, "BucketRegion": "us-east-1"} for n in names]},
              region=None)


def encryption(bucket: str, algorithm: str):
    rules = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": algorithm}}]}
    return ok("s3", "get_bucket_encryption", {"ServerSideEncryptionConfiguration": rules}, region=None,
              Bucket=bucket)


def tags(bucket: str, **pairs: str):
    tag_set = [{"Key": k.replace("_", "-"), "Value": v} for k, v in pairs.items()]
    return ok("s3", "get_bucket_tagging", {"TagSet": tag_set}, region=None, Bucket=bucket)


def no_tags(bucket: str):
    return absent("s3", "get_bucket_tagging", region=None, code="NoSuchTagSet", Bucket=bucket)


def test_kms_encrypted_bucket_passes():
    finding = only(ENC, inventory(buckets("logs"), encryption("logs", "aws:kms")))
    assert finding.status is Status.PASS
    assert finding.resource_id == "arn:aws:s3:::logs"
    assert finding.reason == "bucket logs encrypts by default with aws:kms"


def test_no_default_encryption_fails():
    missing = absent("s3", "get_bucket_encryption", region=None,
                     code="ServerSideEncryptionConfigurationNotFoundError", Bucket="raw")
    finding = only(ENC, inventory(buckets("raw"), missing))
    assert finding.status is Status.FAIL and finding.reason == "bucket raw has no default encryption"


def test_rule_without_an_algorithm_is_no_encryption():
    empty = ok("s3", "get_bucket_encryption", {"ServerSideEncryptionConfiguration": {"Rules": [{}]}},
               region=None, Bucket="raw")
    assert only(ENC, inventory(buckets("raw"), empty)).status is Status.FAIL


def test_sse_s3_is_fine_for_ordinary_buckets():
    finding = only(ENC, inventory(buckets("web"), encryption("web", "AES256"), no_tags("web")))
    assert finding.status is Status.PASS


@pytest.mark.parametrize("pairs", [
    {"data_classification": "Cardholder"}, {"DataClassification": "CDE"}, {"data_classification": " pci "},
    {"pci_scope": "true"}, {"pci_scope": "In-Scope"},
])
def test_cardholder_bucket_needs_kms(pairs):
    finding = only(ENC, inventory(buckets("cards"), encryption("cards", "AES256"), tags("cards", **pairs)))
    assert finding.status is Status.FAIL
    assert finding.reason.startswith("bucket cards is tagged as cardholder data but encrypts with AES256, "
                                     "not SSE-KMS (organisation policy, stricter than PCI DSS 3.5.1")
    assert len(finding.evidence_ids) == 3


def test_other_tags_do_not_make_a_bucket_cardholder():
    labels = tags("x", data_classification="public", pci_scope="no")
    inv = inventory(buckets("x"), encryption("x", "AES256"), labels)
    assert only(ENC, inv).status is Status.PASS


def test_dsse_kms_passes_for_cardholder_data():
    inv = inventory(buckets("c"), encryption("c", "aws:kms:dsse"), tags("c", pci_scope="true"))
    assert only(ENC, inv).status is Status.PASS


def test_unreadable_records_are_errors():
    inv = inventory(buckets("a", "b", "c"), broken("s3", "get_bucket_encryption", region=None, Bucket="a"),
                    encryption("b", "AES256"), broken("s3", "get_bucket_tagging", region=None, Bucket="b"))
    found = by_resource(run(ENC, inv))
    assert {f.status for f in found.values()} == {Status.ERROR}
    assert "whether it holds cardholder data is unknown" in found["arn:aws:s3:::b"].reason
    assert "get_bucket_encryption was not collected" in found["arn:aws:s3:::c"].reason


def test_listing_failure_is_one_account_error():
    finding = only(ENC, inventory(broken("s3", "list_buckets", region=None)))
    assert finding.status is Status.ERROR
    assert finding.resource_id == f"arn:aws:s3::{ACCOUNT}:*"  # one per account in an organisation scan
    assert finding.region is None
    assert "the account" in finding.reason
