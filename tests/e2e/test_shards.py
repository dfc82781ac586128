"""An organisation of 20 member accounts scanned as shards by separate processes over one store.

moto's server runs in this process; every shard is its own `comply shard run` process reaching it over
HTTP and the store (PostgreSQL or SQLite) over its URL, exactly as pods of an Indexed Job would. The
organisation is built once for the module and scanned once in one process (the reference); the full
20-shard run happens once, the kill, fencing and pool cases on a few of its accounts.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from compliance import shards
from compliance.cli import app
from compliance.store import Store
from tests.e2e.conftest import REGION, moto_organization
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures

COMPLY = str(Path(sys.executable).parent / "comply")
MEMBERS = [f"member-{i:02d}" for i in range(20)]
AT_ONCE = 4
"""Shard processes running at once in these tests (the machine running them may have two cores)."""


@pytest.fixture(scope="module")
def organization():
    with moto_organization(MEMBERS, open_ssh_in=tuple(MEMBERS[::5])) as found:
        yield found


# Errors that say the emulator was slow to answer (the machine overloaded), not what the scan found.
TRANSPORT_ERRORS = {"CallTimeout", "ReadTimeoutError", "ConnectTimeoutError", "EndpointConnectionError",
                    "ConnectionClosedError"}


@pytest.fixture(scope="module")
def reference(organization, tmp_path_factory) -> dict[str, str]:
    """The 20 members scanned by one `--organization` process: uid -> status. A scan whose calls timed
    out is taken again (up to three times): compared id for id with the sharded scan, its ERROR findings
    would read as a difference of sharding when they are one of machine load."""
    endpoint, org = organization
    slow: list[str] = []
    for attempt in range(3):
        folder = tmp_path_factory.mktemp(f"reference{attempt}")
        db = f"sqlite:///{folder / 'c.db'}"
        result = _cli("scan", "aws", "--organization", "--endpoint-url", endpoint, "--region", REGION,
                      "--accounts", _accounts(org), "--db", db, "--out", str(folder / "out"),
                      "--format", "ocsf")
        assert result.exit_code == 1, result.output  # the open SSH groups fail
        scan_id = str(Store(db).latest_scan_id())
        scan = Store(db).load_scan(scan_id)
        slow = [r.id for r in scan.evidence if r.error_code in TRANSPORT_ERRORS]
        if not slow:
            return _findings(db, scan_id)
    raise AssertionError(f"three reference scans had calls time out (e.g. {slow[:3]}): machine overloaded")


def _cli(*args: str, env: dict[str, str] | None = None):
    return CliRunner().invoke(app, list(args), env=env)


def _accounts(org, names: list[str] | None = None) -> str:
    """Member ids, comma-separated (only the members: the management account is not one of the 20)."""
    return ",".join(org.members[n] for n in (names or MEMBERS))


def _plan(endpoint: str, db: str, out: Path, *extra: str, formats: str = "ocsf") -> str:
    result = _cli("scan", "aws", "--organization", "--plan", "--endpoint-url", endpoint, "--region", REGION,
                  "--db", db, "--out", str(out), "--format", formats, *extra)
    assert result.exit_code == 0, result.output
    return result.output.split("planned scan ")[1].split(":")[0]


def _shard(db: str, scan_id: str, index: int, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "COMPLY_DB": db, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}
    env.pop("JOB_COMPLETION_INDEX", None)
    return subprocess.Popen([COMPLY, "shard", "run", scan_id, "--index", str(index), *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _run_shards(db: str, scan_id: str, indices: list[int], *extra: str) -> dict[int, tuple[int, str]]:
    """Each shard its own process, AT_ONCE at a time: index -> (exit code, stderr)."""
    waiting, running, ended = list(indices), {}, {}
    while waiting or running:
        while waiting and len(running) < AT_ONCE:
            index = waiting.pop(0)
            running[index] = _shard(db, scan_id, index, *extra)
        for index, process in list(running.items()):
            if process.poll() is not None:
                ended[index] = (process.returncode, process.communicate()[1])
                del running[index]
        time.sleep(0.05)
    return ended


def _running(db: str, scan_id: str, index: int, attempt: int) -> None:
    """Wait until that attempt at the shard has started (and so is collecting)."""
    store, deadline = Store(db), time.monotonic() + 120
    while time.monotonic() < deadline:
        shard = shards.shards(store, scan_id)[index]
        if shard.state == shards.RUNNING and shard.attempt == attempt:
            return
        time.sleep(0.02)
    raise AssertionError(f"shard {index} attempt {attempt} never started")


def _kill_mid_collection(db: str, scan_id: str, index: int) -> None:
    victim = _shard(db, scan_id, index)
    _running(db, scan_id, index, 1)
    time.sleep(0.2)  # into its collection
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    assert shards.shards(Store(db), scan_id)[index].state == shards.RUNNING  # it died holding the shard


def _findings(db: str, scan_id: str | None) -> dict[str, str]:
    scan = Store(db).load_scan(str(scan_id))
    assert len({f.uid for f in scan.findings}) == len(scan.findings)
    return {f.uid: f.status.value for f in scan.findings}


def _ocsf_uids(folder: Path) -> list[str]:
    return [f["finding_info"]["uid"] for f in json.loads((folder / "findings.ocsf.json").read_text())]


def test_twenty_shards_in_separate_processes_with_one_killed_equal_a_one_process_scan(
        organization, reference, postgres_url, tmp_path):  # noqa: F811 - a fixture
    endpoint, org = organization
    scan_id = _plan(endpoint, postgres_url, tmp_path / "sharded", "--accounts", _accounts(org))
    count = len(shards.shards(Store(postgres_url), scan_id))
    assert count == len(MEMBERS) == 20

    _kill_mid_collection(postgres_url, scan_id, 1)
    ended = _run_shards(postgres_url, scan_id, [i for i in range(count) if i != 1], "--no-finish")
    assert {i: code for i, (code, _) in ended.items()} == {i: 0 for i in range(count) if i != 1}, ended
    assert shards.plan(Store(postgres_url), scan_id).state == shards.PLANNED  # nobody finished yet
    rerun = _shard(postgres_url, scan_id, 1)  # re-run by index: the last one to commit finishes the scan
    _, err = rerun.communicate()
    assert rerun.returncode == 1, err  # the open SSH groups fail, as in the reference
    states = shards.shards(Store(postgres_url), scan_id)
    assert [s.state for s in states] == [shards.DONE] * count
    assert [s.attempt for s in states] == [2 if s.index == 1 else 1 for s in states]
    assert shards.plan(Store(postgres_url), scan_id).state == shards.FINISHED

    assert _findings(postgres_url, scan_id) == reference  # id for id, status for status
    uids = _ocsf_uids(tmp_path / "sharded")
    assert len(uids) == len(set(uids)) == len(reference)  # nothing lost, nothing doubled
    status = _cli("scan", "status", scan_id, "--db", postgres_url, "--format", "json")
    assert json.loads(status.output)["state"] == "finished"


def test_a_shard_killed_for_good_makes_the_scan_partial_naming_its_account(organization, tmp_path):
    endpoint, org = organization
    db = f"sqlite:///{tmp_path / 'c.db'}"
    scan_id = _plan(endpoint, db, tmp_path / "out", "--accounts", _accounts(org, MEMBERS[2:5]),
                    formats="ocsf,html")
    _kill_mid_collection(db, scan_id, 1)
    ended = _run_shards(db, scan_id, [0, 2], "--no-finish")
    assert {i: code for i, (code, _) in ended.items()} == {0: 0, 2: 0}

    result = _cli("scan", "finish", scan_id, "--db", db)
    assert result.exit_code in (1, 3), result.output
    lost = shards.shards(Store(db), scan_id)[1].unit
    text = " ".join(result.output.split())
    assert "partial: 1 shard(s) did not complete" in text
    assert f"account {lost.account} ({lost.name}) was not reached: shard 1 did not complete" in text
    scan = Store(db).load_scan(scan_id)
    assert {a["id"]: a["reached"] for a in scan.scope["accounts"]}[lost.account] is False
    assert [f["account"] for f in scan.scope["shards"]["failed"]] == [lost.account]
    evidence = scan.evidence_by_id()
    theirs = [f for f in scan.findings if any(evidence[e].account == lost.account for e in f.evidence_ids
                                              if e in evidence)]
    assert theirs and {f.status.value for f in theirs} == {"ERROR"}  # Not Tested, never passed
    status = json.loads(_cli("scan", "status", scan_id, "--db", db, "--format", "json").output)
    assert [(s["state"], s["attempt"]) for s in status["shards"]] == [("done", 1), ("failed", 1), ("done", 1)]
    again = _cli("scan", "finish", scan_id, "--db", db)
    assert again.exit_code == 0 and "already finished" in again.output

    # the evidence was streamed from the shards into the pack and the store: every record, whole
    pack = tmp_path / "out" / "evidence.zip"
    verified = _cli("evidence", "verify", str(pack), "--public-key", str(pack.parent / "signing-key.pub"))
    assert verified.exit_code == 0, verified.output
    with zipfile.ZipFile(pack) as zf:
        raw = {n: json.loads(zf.read(n)) for n in zf.namelist() if n.startswith("raw/")}
    assert sorted(r["id"] for r in raw.values()) == sorted(r.id for r in scan.evidence)
    answered = [r for r in scan.evidence if r.ok and r.response]
    assert answered and {r["id"]: r["response"] for r in raw.values() if r["id"] in
                         {a.id for a in answered}} == {a.id: a.response for a in answered}
    html = (tmp_path / "out" / "report.html").read_text()
    reached = [s.unit.name for i, s in enumerate(shards.shards(Store(db), scan_id)) if i != 1]
    assert reached and all(f"{name}-internal" in html for name in reached)  # group names in responses shown
    assert f"{lost.name}-internal" not in html


def test_two_attempts_of_one_shard_running_together_commit_exactly_one_result(organization, tmp_path):
    endpoint, org = organization
    db = f"sqlite:///{tmp_path / 'c.db'}"
    scan_id = _plan(endpoint, db, tmp_path / "out", "--accounts", _accounts(org, MEMBERS[5:6]))
    older = _shard(db, scan_id, 0, "--no-finish")
    _running(db, scan_id, 0, 1)
    older.send_signal(signal.SIGSTOP)  # the older attempt is collecting when the newer one starts
    try:
        newer = _shard(db, scan_id, 0, "--no-finish")
        _, newer_err = newer.communicate()
    finally:
        older.send_signal(signal.SIGCONT)
    _, older_err = older.communicate()
    assert (newer.returncode, older.returncode) == (0, 0), (newer_err, older_err)
    assert "shard 0 attempt 2 committed" in newer_err
    assert "attempt 1 was overtaken by a newer attempt: nothing committed" in older_err
    shard = shards.shards(Store(db), scan_id)[0]
    assert (shard.state, shard.attempt) == (shards.DONE, 2)
    committed = shard.result["findings"]
    assert f"{len(committed)} findings" in newer_err
    assert _cli("scan", "finish", scan_id, "--db", db).exit_code == 1  # the member's open SSH fails
    assert sorted(_findings(db, scan_id)) == sorted({_uid(f) for f in committed})
    assert len(committed) == len({_uid(f) for f in committed})  # one result, not two
    finished = shards.shards(Store(db), scan_id)  # the scan's rows hold the evidence now, once
    assert [(s.state, s.attempt, s.result) for s in finished] == [(shards.DONE, 2, None)]


def _uid(finding: dict) -> str:
    from compliance.findings import finding_uid

    return finding_uid(finding["check_id"], finding["resource_id"])


def test_a_local_process_pool_gives_the_same_findings_whatever_its_size(organization, reference, tmp_path):
    """One worker from this process (whose moto threads make the pool start new `comply` processes),
    four from a `comply` process of its own (which forks them from itself)."""
    endpoint, org = organization
    chosen = MEMBERS[:4]
    found = {}
    for workers in (1, 4):
        db = f"sqlite:///{tmp_path / f'w{workers}.db'}"
        args = ["scan", "aws", "--organization", "--workers", str(workers), "--endpoint-url", endpoint,
                "--region", REGION, "--db", db, "--out", str(tmp_path / f"w{workers}"),
                "--accounts", _accounts(org, chosen)]
        if workers == 1:
            result = _cli(*args)
            code, said = result.exit_code, result.output
        else:
            done = subprocess.run([COMPLY, *args], capture_output=True, text=True, timeout=600)
            code, said = done.returncode, done.stderr
        assert code == 1, said  # member-00's open SSH fails
        assert f"{len(chosen)} shards in {workers} processes" in said
        assert "ended with exit" not in said
        found[workers] = _findings(db, Store(db).latest_scan_id())
    assert found[4] == found[1]
    assert set(found[1]) < set(reference) and found[1] == {u: reference[u] for u in found[1]}


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
    sqlite = f"sqlite:///{tmp_path / 'x.db'}"
    refused = _cli("scan", "aws", "--organization", "--plan", "--emit-job", str(tmp_path / "job.yaml"),
                   "--endpoint-url", endpoint, "--region", REGION, "--db", sqlite,
                   "--out", str(tmp_path / "o"))
    assert refused.exit_code == 2 and "postgresql" in refused.output
    assert not (tmp_path / "job.yaml").exists()
    scan_id = _plan(endpoint, postgres_url, tmp_path / "o", "--emit-job", str(tmp_path / "job.yaml"),
                    "--accounts", _accounts(org, MEMBERS[:3]))
    job = yaml.safe_load((tmp_path / "job.yaml").read_text())
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == len(shards.shards(Store(postgres_url), scan_id)) == 3
    assert job["spec"]["template"]["spec"]["containers"][0]["args"] == ["shard", "run", scan_id]
    deploy = Path(__file__).resolve().parents[2] / "deploy" / "kubernetes"
    for name, objects in shipped().items():
        assert (deploy / name).read_text() == dump(objects), f"regenerate deploy/kubernetes ({name})"

    # a pod of an Indexed Job on a SQLite file: refused with one line before it takes the shard
    local = _plan(endpoint, sqlite, tmp_path / "o2", "--accounts", _accounts(org, MEMBERS[:1]))
    pod = _cli("shard", "run", local, "--db", sqlite, env={"JOB_COMPLETION_INDEX": "0"})
    assert pod.exit_code == 2, pod.output
    assert "JOB_COMPLETION_INDEX is set" in pod.output and "postgresql" in pod.output
    assert len(pod.output.strip().splitlines()) == 1
    assert shards.shards(Store(sqlite), local)[0].attempt == 0


@pytest.mark.parametrize("args", [
    ["scan", "aws", "--plan"],
    ["scan", "aws", "--workers", "2"],
    ["scan", "aws", "--organization", "--plan", "--workers", "2"],
    ["scan", "aws", "--organization", "--workers", "2", "--processes", "3"],
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


def test_workers_is_the_process_pool_and_concurrency_the_calls_into_one_account():
    import re

    text = re.sub(r"\s+", " ", re.sub(r"[│╭╮╰╯─]", " ", _cli("scan", "aws", "--help").output))
    assert "--workers" in text and "--concurrency" in text and "--processes" not in text  # an alias, hidden
    assert "run the shards in this many local processes" in text
    worded = _cli("scan", "aws", "--workers", "3", "--out", "-")
    assert worded.exit_code == 2
    assert "--workers N runs an organisation's shards in N processes and needs --organization" in " ".join(
        worded.output.split())


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


def test_finishing_a_plan_whose_evidence_outgrows_sqlites_cache_reads_through_the_writer(
        tmp_path, monkeypatch):
    """A SQLite writer whose changes outgrow its page cache spills them to the file under an exclusive
    lock; a shard result read through another connection then waited for the writer (database is
    locked). The finishing step streams the shards' evidence through the writing transaction. Here the
    first batch of records written (store.EVIDENCE_BATCH) outgrows the cache before the last shard is
    read."""
    from compliance import store as store_module
    from compliance.collect.record import EvidenceRecord, Outcome

    monkeypatch.setattr(store_module, "SQLITE_BUSY_SECONDS", 2)
    monkeypatch.setenv("COMPLY_CONFIG_DIR", str(tmp_path / "config"))
    db = f"sqlite:///{tmp_path / 'big.db'}"
    store = Store(db)
    accounts = ["111111111111", "222222222222", "333333333333", "444444444444"]
    listing = EvidenceRecord("aws", "organizations", "list_accounts", None, {}, "2026-01-01T00:00:00+00:00",
                             Outcome.OK, response={"Accounts": [{"Id": a} for a in accounts]})
    shards.create(store, "big", "aws", [shards.Unit(a, f"acct-{a}") for a in accounts],
                  request={"regions": [REGION], "ecr_min_severity": "HIGH", "shard_by": "account"},
                  output={"out": str(tmp_path / "out"), "formats": "ocsf,evidence", "fail_on": "none",
                          "frameworks": ["pci-dss-4.0.1"], "waivers": None, "signing_key": None,
                          "organisation": None, "timeout": 30},
                  scope={"organization": True, "regions": [REGION]}, listing=listing.as_dict())
    for n, account in enumerate(accounts):
        evidence = [EvidenceRecord("aws", "ec2", "describe_things", REGION, {"page": k},
                                   "2026-01-01T00:00:00+00:00", Outcome.OK,
                                   response={"blob": str(k) * 8_000}, account=account).as_dict()
                    for k in range(200)]
        _, attempt = shards.start(store, "big", n)
        assert shards.commit(store, "big", n, attempt, {"reached": True, "reason": None, "evidence": evidence,
                                                        "findings": []})
    result = _cli("scan", "finish", "big", "--db", db)
    assert result.exit_code == 0, result.output
    assert len(Store(db).load_scan("big").evidence) == 1 + 200 * len(accounts)
