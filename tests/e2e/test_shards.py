"""An organisation scanned as shards by separate processes over one store, as a Kubernetes Job would.

moto's server runs in this process; every shard is its own `comply shard run` process reaching it over
HTTP and the store (PostgreSQL or SQLite) over its URL, exactly as pods of an Indexed Job would.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from compliance import shards
from compliance.cli import app
from compliance.demo import moto_server
from compliance.organization_demo import build
from compliance.store import Store
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

REGION = "us-east-1"
COMPLY = str(Path(sys.executable).parent / "comply")


@pytest.fixture(scope="module")
def organization():
    with pytest.MonkeyPatch.context() as env:
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", REGION)):
            env.setenv(name, value)
        with moto_server() as endpoint:
            yield endpoint, build(["payments", "ledger", "cards", "vault"], REGION, endpoint,
                                  open_ssh_in=("ledger",))


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def _own(org) -> str:
    """This module's accounts: moto keeps one state per process, so the organisation may hold others'."""
    return ",".join(org.members.values())


def _plan(endpoint: str, db: str, out: Path, *extra: str) -> str:
    result = _cli("scan", "aws", "--organization", "--plan", "--endpoint-url", endpoint, "--region", REGION,
                  "--db", db, "--out", str(out), "--format", "ocsf", *extra)
    assert result.exit_code == 0, result.output
    return result.output.split("planned scan ")[1].split(":")[0]


def _shard(db: str, scan_id: str, index: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "COMPLY_DB": db, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    return subprocess.Popen([COMPLY, "shard", "run", scan_id, "--index", str(index), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _findings(db: str, scan_id: str) -> dict[str, str]:
    scan = Store(db).load_scan(scan_id)
    assert len({f.uid for f in scan.findings}) == len(scan.findings)
    return {f.uid: f.status.value for f in scan.findings}


def test_shards_in_separate_processes_with_one_killed_equal_a_one_process_scan(
        organization, postgres_url, tmp_path):  # noqa: F811 - a fixture
    endpoint, org = organization
    scan_id = _plan(endpoint, postgres_url, tmp_path / "sharded", "--accounts", _own(org))
    count = len(shards.shards(Store(postgres_url), scan_id))
    assert count == len(org.members)

    victim = _shard(postgres_url, scan_id, 1)
    deadline = time.monotonic() + 60
    store = Store(postgres_url)
    while shards.shards(store, scan_id)[1].state != shards.RUNNING and time.monotonic() < deadline:
        time.sleep(0.02)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert shards.shards(Store(postgres_url), scan_id)[1].state == shards.RUNNING  # died holding it

    others = [_shard(postgres_url, scan_id, i, "--no-finish") for i in range(count) if i != 1]
    assert [p.wait() for p in others] == [0] * (count - 1), [p.stderr.read() for p in others]
    rerun = _shard(postgres_url, scan_id, 1)  # the last one to commit finishes the scan
    _, err = rerun.communicate()
    assert rerun.returncode in (0, 1, 3), err
    states = shards.shards(Store(postgres_url), scan_id)
    assert [s.state for s in states] == [shards.DONE] * count and states[1].attempt == 2
    assert shards.plan(Store(postgres_url), scan_id).state == shards.FINISHED
    assert (tmp_path / "sharded" / "findings.ocsf.json").is_file()

    single = _cli("scan", "aws", "--organization", "--endpoint-url", endpoint, "--region", REGION,
                  "--accounts", _own(org), "--db", postgres_url, "--out", str(tmp_path / "single"))
    assert single.exit_code in (1, 3), single.output
    single_id = Store(postgres_url).latest_scan_id()
    assert single_id != scan_id
    assert _findings(postgres_url, scan_id) == _findings(postgres_url, single_id)

    status = _cli("scan", "status", scan_id, "--db", postgres_url, "--format", "json")
    assert json.loads(status.output)["state"] == "finished"


def test_a_shard_that_never_completes_makes_the_scan_partial(organization, tmp_path):
    endpoint, org = organization
    db = f"sqlite:///{tmp_path / 'c.db'}"
    chosen = f"{org.members['cards']},{org.members['vault']}"
    scan_id = _plan(endpoint, db, tmp_path / "out", "--accounts", chosen)
    assert [_shard(db, scan_id, 0, "--no-finish").wait()] == [0]
    result = _cli("scan", "finish", scan_id, "--db", db)
    assert result.exit_code in (1, 3), result.output
    assert "partial: 1 shard(s) did not complete" in " ".join(result.output.split())
    scan = Store(db).load_scan(scan_id)
    missing = shards.shards(Store(db), scan_id)[1].unit.account
    assert {a["id"]: a["reached"] for a in scan.scope["accounts"]}[missing] is False
    evidence = scan.evidence_by_id()
    theirs = [f for f in scan.findings if any(evidence[e].account == missing for e in f.evidence_ids
                                              if e in evidence)]
    assert theirs and {f.status.value for f in theirs} == {"ERROR"}
    again = _cli("scan", "finish", scan_id, "--db", db)
    assert again.exit_code == 0 and "already finished" in again.output


def test_a_local_process_pool_gives_the_same_findings_whatever_its_size(organization, tmp_path):
    endpoint, org = organization
    ids = []
    for processes in (1, 3):
        db = f"sqlite:///{tmp_path / f'p{processes}.db'}"
        result = _cli("scan", "aws", "--organization", "--processes", str(processes),
                      "--endpoint-url", endpoint, "--region", REGION, "--db", db,
                      "--out", str(tmp_path / f"p{processes}"),
                      "--accounts", f"{org.members['ledger']},{org.members['payments']}")
        assert result.exit_code == 1, result.output  # the ledger's open SSH fails
        ids.append((db, Store(db).latest_scan_id()))
    assert _findings(*ids[0]) == _findings(*ids[1])


def test_attempts_are_fenced_so_exactly_one_result_stands(tmp_path):
    store = Store(f"sqlite:///{tmp_path / 'f.db'}")
    shards.create(store, "s1", "aws", [shards.Unit("111111111111", "a")], request={}, output={}, scope={},
                  listing={})
    _, first = shards.start(store, "s1", 0)
    _, second = shards.start(store, "s1", 0)
    assert shards.commit(store, "s1", 0, first, {"from": "first"}) is False
    assert shards.commit(store, "s1", 0, second, {"from": "second"}) is True
    assert shards.shards(store, "s1")[0].result == {"from": "second"}
    _, third = shards.start(store, "s1", 0)
    assert shards.commit(store, "s1", 0, third, {"from": "third"}) is True  # a retry replaces, never adds
    assert [s.result for s in shards.shards(store, "s1")] == [{"from": "third"}]
    assert shards.claim_finish(store, "s1") is True and shards.claim_finish(store, "s1") is False


def test_the_job_for_a_plan_and_the_shipped_manifests(
        organization, tmp_path, postgres_url):  # noqa: F811 - a fixture
    from compliance.kubernetes_jobs import dump, shipped

    endpoint, org = organization
    refused = _cli("scan", "aws", "--organization", "--plan", "--emit-job", str(tmp_path / "job.yaml"),
                   "--endpoint-url", endpoint, "--region", REGION, "--db", f"sqlite:///{tmp_path / 'x.db'}",
                   "--out", str(tmp_path / "o"))
    assert refused.exit_code == 2 and "postgresql" in refused.output
    scan_id = _plan(endpoint, postgres_url, tmp_path / "o", "--emit-job", str(tmp_path / "job.yaml"),
                    "--accounts", _own(org))
    job = yaml.safe_load((tmp_path / "job.yaml").read_text())
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == len(shards.shards(Store(postgres_url), scan_id))
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["shard", "run", scan_id]
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
    for name, objects in shipped().items():
        assert (deploy / name).read_text() == dump(objects), f"regenerate deploy/kubernetes ({name})"


@pytest.mark.parametrize("args", [
    ["scan", "aws", "--plan"],
    ["scan", "aws", "--organization", "--plan", "--processes", "2"],
    ["scan", "aws", "--organization", "--shard-by", "zone"],
    ["scan", "aws", "--organization", "--emit-job", "job.yaml"],
    ["shard", "run", "nosuchscan"],
    ["scan", "status", "nosuchscan"],
])
def test_bad_shard_commands_are_one_line_and_exit_2(args, tmp_path):
    result = _cli(*args, "--db", f"sqlite:///{tmp_path / 'b.db'}") if args[0] != "scan" or args[1] != "aws" \
        else _cli(*args, "--out", str(tmp_path / "o"), "--db", f"sqlite:///{tmp_path / 'b.db'}")
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output


def test_the_shipped_manifests_are_valid_kubernetes_and_pass_our_own_scan(tmp_path):
    import kubernetes_validate

    from compliance.kubernetes_jobs import dump, indexed_job

    deploy = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
    (tmp_path / "emitted.yaml").write_text(dump([indexed_job("0123456789ab", 21)]))
    documents = [d for f in [*sorted(deploy.glob("*.yaml")), tmp_path / "emitted.yaml"]
                 for d in yaml.safe_load_all(f.read_text())]
    assert {d["kind"] for d in documents} == {"Job", "CronJob", "ServiceAccount"}
    for document in documents:
        kubernetes_validate.validate(document, kubernetes_validate.latest_version(), strict=True)
    result = _cli("scan", "kubernetes", "--manifests", str(deploy), "--out", str(tmp_path / "k8s"),
                  "--db", f"sqlite:///{tmp_path / 'k.db'}")
    findings = json.loads((tmp_path / "k8s" / "findings.ocsf.json").read_text())
    assert findings and not [f["metadata"]["event_code"] for f in findings if f["status_code"] != "PASS"]
    assert result.exit_code == 0, result.output
