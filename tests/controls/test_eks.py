"""EKS control-plane checks over hand-built evidence: encryption, endpoint exposure, audit logging."""

from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, REGION, broken, by_resource, inventory, ok, only, run

ENCRYPTION, ENDPOINT = "aws.eks.secrets_encryption", "aws.eks.endpoint_restricted"
AUDIT = "aws.eks.audit_logging"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/k1"


def listed(*names: str):
    return ok("eks", "list_clusters", {"clusters": list(names)})


def cluster(name: str = "payments", **config):
    body = {"name": name, "arn": f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/{name}", **config}
    return ok("eks", "describe_cluster", {"cluster": body}, name=name)


def hardened(name: str = "payments"):
    return cluster(name, encryptionConfig=[{"resources": ["secrets"], "provider": {"keyArn": KEY}}],
                   resourcesVpcConfig={"endpointPublicAccess": False, "endpointPrivateAccess": True},
                   logging={"clusterLogging": [{"types": ["api", "audit"], "enabled": True},
                                               {"types": ["scheduler"], "enabled": False}]})


def test_a_hardened_cluster_passes_all_three():
    inv = inventory(listed("payments"), hardened())
    for check_id, words in ((ENCRYPTION, KEY), (ENDPOINT, "private only"), (AUDIT, "api, audit")):
        finding = only(check_id, inv)
        assert finding.status is Status.PASS and words in finding.reason
        assert finding.resource_id.endswith(":cluster/payments") and len(finding.evidence_ids) == 2


def test_a_default_cluster_fails_all_three():
    logging = {"clusterLogging": [{"types": ["api"], "enabled": False}]}
    inv = inventory(listed("sandbox"),
                    cluster("sandbox", resourcesVpcConfig={"endpointPublicAccess": True}, logging=logging))
    assert only(ENCRYPTION, inv).reason == "EKS cluster sandbox has no KMS envelope encryption for Secrets"
    assert only(ENDPOINT, inv).reason == "EKS cluster sandbox's API endpoint is public and open to 0.0.0.0/0"
    assert only(AUDIT, inv).reason == ("EKS cluster sandbox does not send its audit log to CloudWatch "
                                       "(enabled: none)")
    assert {only(c, inv).status for c in (ENCRYPTION, ENDPOINT, AUDIT)} == {Status.FAIL}


def test_a_public_endpoint_limited_to_known_ranges_passes():
    inv = inventory(listed("ops"), cluster("ops", resourcesVpcConfig={
        "endpointPublicAccess": True, "publicAccessCidrs": ["203.0.113.0/24"]}))
    finding = only(ENDPOINT, inv)
    assert finding.status is Status.PASS and "203.0.113.0/24" in finding.reason


@pytest.mark.parametrize("check_id", [ENCRYPTION, ENDPOINT, AUDIT])
def test_missing_evidence_is_an_error_never_a_pass(check_id):
    refused = only(check_id, inventory(broken("eks", "list_clusters")))
    assert refused.status is Status.ERROR and "cannot list cluster/*" in refused.reason
    findings = by_resource(run(check_id, inventory(listed("a", "b"), hardened("a"),
                                                    broken("eks", "describe_cluster", name="b"))))
    assert findings[f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/a"].status is Status.PASS
    missing = findings[f"arn:aws:eks:{REGION}:{ACCOUNT}:cluster/b"]
    assert missing.status is Status.ERROR and "configuration unknown" in missing.reason
    assert only(check_id, inventory()).status is Status.ERROR
