from __future__ import annotations

import pytest

from compliance.findings import Status
from tests.controls.builders import ACCOUNT, OTHER, REGION, broken, by_resource, inventory, ok, only, run

PUBLIC = "aws.rds.not_public"
ENCRYPTED = "aws.rds.storage_encrypted"


def db(name: str, **fields) -> dict:
    return {"DBInstanceIdentifier": name, "DBInstanceArn": f"arn:aws:rds:{REGION}:{ACCOUNT}:db:{name}",
            "Engine": "postgres", **fields}


def dbs(*instances: dict):
    return inventory(ok("rds", "describe_db_instances", {"DBInstances": list(instances)}))


def test_public_instance_fails_private_passes():
    inv = dbs(db("open", PubliclyAccessible=True), db("shut", PubliclyAccessible=False))
    found = by_resource(run(PUBLIC, inv))
    opened = found[f"arn:aws:rds:{REGION}:{ACCOUNT}:db:open"]
    assert opened.status is Status.FAIL and opened.reason == "DB instance open is publicly accessible"
    assert found[f"arn:aws:rds:{REGION}:{ACCOUNT}:db:shut"].status is Status.PASS


def test_storage_encryption():
    found = by_resource(run(ENCRYPTED, dbs(db("a", StorageEncrypted=True), db("b", StorageEncrypted=False))))
    assert found[f"arn:aws:rds:{REGION}:{ACCOUNT}:db:a"].status is Status.PASS
    plain = found[f"arn:aws:rds:{REGION}:{ACCOUNT}:db:b"]
    assert plain.status is Status.FAIL and plain.reason == "DB instance b does not encrypt its storage"


@pytest.mark.parametrize("check_id", [PUBLIC, ENCRYPTED])
def test_unstated_field_is_an_error_not_a_pass(check_id):
    finding = only(check_id, dbs(db("x")))
    assert finding.status is Status.ERROR
    assert "does not state" in finding.reason


def test_missing_arn_is_built_from_the_identifier():
    instance = db("y", StorageEncrypted=True)
    del instance["DBInstanceArn"]
    assert only(ENCRYPTED, dbs(instance)).resource_id == f"arn:aws:rds:{REGION}:{ACCOUNT}:db:y"


def test_no_instances_means_no_finding_and_failed_region_an_error():
    assert run(PUBLIC, dbs()) == []
    inv = inventory(ok("rds", "describe_db_instances", {"DBInstances": []}),
                    broken("rds", "describe_db_instances", region=OTHER), regions=(REGION, OTHER))
    finding = only(PUBLIC, inv)
    assert finding.status is Status.ERROR
    assert finding.resource_id == f"arn:aws:rds:{OTHER}:{ACCOUNT}:db:*"
