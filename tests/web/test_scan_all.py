"""`comply scan all --config comply.yaml`: several targets, one scan, one report, one pack."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from compliance.cli import app
from compliance.store import Store
from compliance.targets.kubernetes import wallet_manifests

runner = CliRunner()


def run_all(tmp_path, text: str, *extra: str):
    config = tmp_path / "comply.yaml"
    config.write_text(text)
    db = f"sqlite:///{tmp_path / 'comply.db'}"
    return runner.invoke(app, ["scan", "all", "--config", str(config), "--db", db, *extra]), db


def test_web_and_kubernetes_in_one_scan_and_one_pack(tmp_path, broken_url):
    result, db = run_all(tmp_path, f"""\
out: {tmp_path / 'out'}
format: ocsf,evidence
fail_on: critical
web:
  url: {broken_url}
  max-requests: 150
  probe_rate_limit: false
kubernetes:
  manifests: [{wallet_manifests()}]
""")
    assert result.exit_code == 1, result.output
    store = Store(db)
    scan = store.load_scan(store.latest_scan_id())
    assert set(scan.target.split("+")) == {"web", "kubernetes"}
    assert set(scan.scope) == {"web", "kubernetes"} and scan.scope["web"]["url"] == broken_url
    targets = {f.check_id.split(".")[0] for f in scan.findings}
    assert targets == {"web", "kubernetes"}
    findings = json.loads((tmp_path / "out" / "findings.ocsf.json").read_text())
    assert {f["metadata"]["event_code"].split(".")[0] for f in findings} == {"web", "kubernetes"}
    assert len(list((tmp_path / "out").glob("*evidence*"))) == 1


@pytest.mark.parametrize(("text", "fragment"), [
    ("fail_on: high\n", "names no target"),
    ("web:\n  max_requests: 10\n", "Missing option '--url'"),
    ("web:\n  url: https://x.test\n  colour: red\n", "unknown key 'colour' in web"),
    ("web:\n  url: https://x.test\n  allow_write: maybe\n", "expected true or false"),
    ("web:\n  url: https://x.test\n  max_requests: lots\n", "Invalid value for '--max-requests'"),
    ("web: [1]\n", "expected a mapping of web options"),
])
def test_bad_config_is_one_line_and_exit_2(tmp_path, text, fragment):
    result, _ = run_all(tmp_path, text)
    assert result.exit_code == 2, result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and fragment in lines[0], result.output


def test_scan_all_needs_a_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["scan", "all"])
    assert result.exit_code == 2 and "needs --config FILE" in result.output
