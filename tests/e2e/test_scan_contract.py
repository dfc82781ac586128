"""The scan contract a pipeline relies on, end to end against moto's server.

Real `comply` processes for what only a process shows (a second scan on a held folder, a kill in
the middle of a scan, the password in every stream at every log level against PostgreSQL); the
test runner in-process for the rest.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app
from typer.testing import CliRunner
from werkzeug.serving import make_server

from compliance.cli import app
from compliance.demo import moto_server, provision
from compliance.outdir import LOCK, MARKER, OutputFolder
from compliance.store import Store
from tests.postgres import postgres_server as postgres_server  # fixture

runner = CliRunner()
COMPLY = str(Path(sys.executable).with_name("comply"))
PAUSE = {"seconds": 0.0}


class _SlowMoto(ThreadedMotoServer):
    """moto answering every request after a pause, so a scan lasts long enough to be interrupted."""

    def _server_entry(self) -> None:
        inner = DomainDispatcherApplication(create_backend_app)

        def slow(environ, start_response):  # type: ignore[no-untyped-def]
            if "moto-api" not in environ.get("PATH_INFO", ""):
                time.sleep(PAUSE["seconds"])
            return inner(environ, start_response)

        self._server = make_server(self._ip_address, self._port, slow, threaded=True)
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="module")
def slow_deployment():
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with moto_server(_SlowMoto) as endpoint:
            requests.post(f"{endpoint}/moto-api/reset", timeout=10)
            provision(endpoint)
            yield endpoint


def scan_args(endpoint: str, out: Path | str, *extra: str) -> list[str]:
    return ["scan", "aws", "--endpoint-url", endpoint, "--region", "us-east-1", "--out", str(out), *extra]


def snapshot(folder: Path) -> dict[str, str]:
    """Every file but the lock's holder note, which each claimant rewrites."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != LOCK
    }


def env_for(tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "COMPLY_DB": f"sqlite:///{tmp_path / 'comply.db'}",
        "COMPLY_CONFIG_DIR": str(tmp_path / "config"),
    }


def holder_pid(out: Path) -> int | None:
    try:
        return int(json.loads((out / LOCK).read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def wait_for_claim(proc: subprocess.Popen, out: Path, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while holder_pid(out) != proc.pid:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "the scan never claimed its folder"
        time.sleep(0.05)


HOLD = (
    "import sys, time; from compliance.outdir import OutputFolder; f = OutputFolder(sys.argv[1]); "
    "f.claim('heldscan0001'); print('held', flush=True); time.sleep(120)"
)


def test_a_second_scan_on_a_held_folder_is_refused_naming_the_holder(deployment, tmp_path):
    out, env = tmp_path / "out", env_for(tmp_path)
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(out)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        note = json.loads((out / LOCK).read_text())
        refused = subprocess.run(
            [COMPLY, *scan_args(deployment, out)], env=env, capture_output=True, text=True, timeout=300
        )
    finally:
        holder.kill()
        holder.wait()
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        f"comply: error: --out {out} is in use by scan heldscan0001 (pid {holder.pid} on {note['host']}, "
        f"started {note['started_at']}): wait for it or choose another --out"
    ]
    assert snapshot(out) == {}
    assert Store(env["COMPLY_DB"]).list_scans() == []


def test_two_scans_at_once_on_one_folder_end_with_one_whole_scan(deployment, tmp_path):
    out, env = tmp_path / "out", env_for(tmp_path)
    procs = [
        subprocess.Popen(
            [COMPLY, *scan_args(deployment, out, "--format", fmt)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for fmt in ("ocsf,evidence", "sarif,csv,evidence")
    ]
    results = [(p.wait(timeout=600), p.communicate()[1]) for p in procs]
    codes = sorted(code for code, _ in results)
    assert codes in ([1, 1], [1, 2]), results
    refused = [err for code, err in results if code == 2]
    assert all("is in use by scan" in err for err in refused)
    marker = json.loads((out / MARKER).read_text())
    assert marker["scan_id"] == Store(env["COMPLY_DB"]).latest_scan_id() or len(refused) == 0
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    assert visible == sorted(marker["files"])
    verify = subprocess.run(
        [
            COMPLY,
            "evidence",
            "verify",
            str(out / "evidence.zip"),
            "--public-key",
            str(tmp_path / "config" / "signing-key.pub"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0 and f"scan {marker['scan_id']}" in verify.stdout, verify.stderr


def test_a_kill_mid_scan_leaves_the_folder_and_the_store_as_they_were(slow_deployment, tmp_path):
    out, env = tmp_path / "out", env_for(tmp_path)
    done = subprocess.run(
        [COMPLY, *scan_args(slow_deployment, out, "--format", "ocsf,csv,evidence")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 1, done.stderr
    (out / "notes.md").write_text("mine")
    before, scans = snapshot(out), [s.id for s in Store(env["COMPLY_DB"]).list_scans()]
    victim = subprocess.Popen(
        [COMPLY, *scan_args(slow_deployment, out, "--format", "sarif")],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_claim(victim, out)
    time.sleep(1.0)
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=30)
    assert snapshot(out) == before
    assert [s.id for s in Store(env["COMPLY_DB"]).list_scans()] == scans
    verify = subprocess.run(
        [
            COMPLY,
            "evidence",
            "verify",
            str(out / "evidence.zip"),
            "--public-key",
            str(tmp_path / "config" / "signing-key.pub"),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert verify.returncode == 0, verify.stderr


def test_a_kill_while_publishing_is_rolled_forward_by_the_next_claim(tmp_path):
    out = tmp_path / "out"
    folder = OutputFolder(out)
    folder.claim("old")
    staging = folder.staging("old")
    for name in ("findings.ocsf.json", "results.sarif"):
        (staging / name).write_text(f"old {name}")
    folder.publish(staging, "old")
    folder.release()
    folder = OutputFolder(out)
    folder.claim("new")
    staging = folder.staging("new")
    (staging / "findings.ocsf.json").write_text("new ocsf")
    (staging / "junit.xml").write_text("new junit")
    # what publish writes before it moves anything; then "killed" after the first move
    (out / ".comply-publish.json").write_text(
        json.dumps(
            {
                "scan_id": "new",
                "staging": staging.name,
                "files": ["findings.ocsf.json", "junit.xml"],
                "remove": ["results.sarif"],
            }
        )
    )
    os.replace(staging / "findings.ocsf.json", out / "findings.ocsf.json")
    folder.release()
    OutputFolder(out).claim("next")
    assert sorted(p.name for p in out.iterdir() if not p.name.startswith(".")) == [
        "findings.ocsf.json",
        "junit.xml",
    ]
    assert (out / "junit.xml").read_text() == "new junit"
    assert json.loads((out / MARKER).read_text())["scan_id"] == "new"
    assert not list(out.glob(".comply-staging-*"))


def test_outputs_of_an_earlier_scan_are_removed_and_foreign_files_kept(deployment, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLY_DB", f"sqlite:///{tmp_path / 'comply.db'}")
    out = tmp_path / "out"
    first = runner.invoke(app, scan_args(deployment, out, "--format", "ocsf,csv,sarif,junit,evidence"))
    assert first.exit_code == 1, first.output
    (out / "waivers-notes.txt").write_text("mine")
    second = runner.invoke(app, scan_args(deployment, out, "--format", "csv"))
    assert second.exit_code == 1, second.output
    visible = sorted(p.name for p in out.iterdir() if not p.name.startswith("."))
    marker = json.loads((out / MARKER).read_text())
    assert "findings.csv" in marker["files"]
    assert visible == sorted({*marker["files"], "waivers-notes.txt"})
    assert not {"results.sarif", "junit.xml", "evidence.zip", "findings.ocsf.json", "signing-key.pub"} & set(
        visible
    )
    scan_id = marker["scan_id"]
    assert scan_id == Store(f"sqlite:///{tmp_path / 'comply.db'}").latest_scan_id()
    assert f"scan {scan_id}:" in second.output


def test_out_dash_streams_one_format_and_keeps_stdout_clean(deployment, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLY_DB", f"sqlite:///{tmp_path / 'comply.db'}")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, scan_args(deployment, "-", "--format", "sarif"))
    assert result.exit_code == 1, result.stderr
    sarif = json.loads(result.stdout)
    assert sarif["runs"][0]["results"]
    assert "exit 1:" in result.stderr
    assert list(tmp_path.iterdir()) == [tmp_path / "comply.db"]


def test_quiet_prints_only_the_summary_and_fail_on_none_exits_0(deployment, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLY_DB", f"sqlite:///{tmp_path / 'comply.db'}")
    result = runner.invoke(app, scan_args(deployment, tmp_path / "o", "--quiet", "--fail-on", "none"))
    assert result.exit_code == 0, result.output
    (line,) = result.stdout.strip().splitlines()
    assert line.startswith("scan ") and line.endswith("exit 0: report only (--fail-on none)")


def test_a_baseline_gates_only_on_new_failures(deployment, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLY_DB", f"sqlite:///{tmp_path / 'comply.db'}")
    first = runner.invoke(app, scan_args(deployment, tmp_path / "a", "-q"))
    assert first.exit_code == 1
    by_id = runner.invoke(app, scan_args(deployment, tmp_path / "b", "-q", "--baseline", "latest"))
    assert by_id.exit_code in (0, 3), by_id.output
    assert "not in the baseline" in by_id.output or "could not be assessed" in by_id.output
    by_file = runner.invoke(
        app,
        scan_args(deployment, tmp_path / "c", "-q", "--baseline", str(tmp_path / "a" / "findings.ocsf.json")),
    )
    assert by_file.exit_code in (0, 3), by_file.output
    empty = tmp_path / "empty.json"
    empty.write_text("[]")
    gated = runner.invoke(app, scan_args(deployment, tmp_path / "d", "--baseline", str(empty)))
    assert gated.exit_code == 1
    assert "new since the baseline: aws." in gated.stdout


def test_flag_beats_variable_beats_config_file(deployment, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLY_DB", f"sqlite:///{tmp_path / 'comply.db'}")
    monkeypatch.chdir(tmp_path)
    (tmp_path / "comply.yaml").write_text("fail-on: none\nquiet: true\naws:\n  concurrency: 4\n")
    from_file = runner.invoke(app, scan_args(deployment, "o1"))
    assert from_file.exit_code == 0 and len(from_file.stdout.strip().splitlines()) == 1, from_file.output
    monkeypatch.setenv("COMPLY_FAIL_ON", "critical")
    from_env = runner.invoke(app, scan_args(deployment, "o2"))
    assert from_env.exit_code == 1 and "at or above Critical" in from_env.stdout
    from_flag = runner.invoke(app, scan_args(deployment, "o3", "--fail-on", "none"))
    assert from_flag.exit_code == 0


def test_debug_logging_names_each_call_with_its_duration_and_outcome(deployment, tmp_path, monkeypatch):
    monkeypatch.setenv("COMPLY_DB", f"sqlite:///{tmp_path / 'comply.db'}")
    result = runner.invoke(
        app, scan_args(deployment, tmp_path / "o", "-q", "--log-level", "debug", "--timeout", "20")
    )
    assert result.exit_code == 1
    calls = [line for line in result.stderr.splitlines() if line.startswith("comply: aws ")]
    assert any(" ec2.describe_security_groups us-east-1: ok in " in line for line in calls), calls[:5]
    assert len(calls) > 20


VERBOSITIES = [[], ["-q"], ["--log-level", "info"], ["--log-level", "debug"], ["--debug"]]


def _database(server) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    import psycopg

    password = "s3cret-Pa55-" + os.urandom(4).hex()
    name = f"t_{os.urandom(6).hex()}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return password, f"postgresql+psycopg://postgres:{password}@127.0.0.1:{server.port}/{name}"


def test_the_store_password_never_reaches_any_stream(postgres_server, deployment, tmp_path):
    """Every stream of every command, at every verbosity, on success and on failure."""
    password, url = _database(postgres_server)
    env = {**env_for(tmp_path), "COMPLY_DB": url}
    runs = [[*scan_args(deployment, tmp_path / "o"), *v] for v in VERBOSITIES]
    runs += [
        [*scan_args(deployment, tmp_path / "o"), "--db", url.rsplit("/", 1)[0] + "/missing", *v]
        for v in ([], ["--debug"])
    ]
    runs += [
        ["scans", "list"],
        ["scans", "show", "nosuch", "--debug"],
        ["report", "latest", "--out", str(tmp_path / "r"), "--format", "ocsf"],
    ]
    seen = []
    for args in runs:
        done = subprocess.run([COMPLY, *args], env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode in (0, 1, 2), (args, done.stderr[-500:])
        assert password not in done.stdout + done.stderr, args
        seen.append(done.stdout + done.stderr)
    assert any("postgres:***@127.0.0.1" in text for text in seen)
    assert any("comply: aws " in text for text in seen)  # the debug runs did log


EVIDENCE_LINKS = """
import json, sys
from compliance.demo import moto_server, provision
from compliance.engine import run_scan
from compliance.targets.aws import AwsTarget

def links(endpoint):
    scan = run_scan([AwsTarget(regions=["us-east-1"], endpoint_url=endpoint)])
    ids = {rec.id for rec in scan.evidence}
    return {"findings": len(scan.findings),
            "unlinked": sorted({f.check_id for f in scan.findings if not f.evidence_ids}),
            "dangling": sorted({f.check_id for f in scan.findings if set(f.evidence_ids) - ids}),
            "trail": [list(f.evidence_ids) for f in scan.findings
                      if f.check_id == "aws.cloudtrail.multi_region_logging"]}

if sys.argv[1] == "-":
    with moto_server() as endpoint:  # its own process, so its own empty emulated account
        print(json.dumps(links(endpoint)))
else:
    print(json.dumps(links(sys.argv[1])))
"""


@pytest.mark.parametrize("account", ["empty", "deployment"])
def test_every_finding_links_the_evidence_that_justifies_it(request, account, tmp_path):
    """Absence included: "no multi-region trail" links the DescribeTrails answers that showed none."""
    endpoint = request.getfixturevalue("deployment") if account == "deployment" else "-"
    done = subprocess.run(
        [sys.executable, "-c", EVIDENCE_LINKS, endpoint],
        env=env_for(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["findings"] and result["unlinked"] == [] and result["dangling"] == []
    if account == "empty":
        assert any("describe_trails" in e for ids in result["trail"] for e in ids)
