"""`comply scan kubernetes` end to end: offline manifests and a live in-memory API server."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from compliance.cli import app
from compliance.store import Store
from tests.kube_server import api_server, load_documents
from tests.kubernetes.planted import PAYMENTS, PCI_FAMILY, PLANTED, WALLET

runner = CliRunner()


def run(tmp_path, *args: str):
    out = tmp_path / "out"
    result = runner.invoke(app, ["scan", "kubernetes", *args, "--out", str(out),
                                 "--db", f"sqlite:///{tmp_path / 'comply.db'}"])
    assert "Traceback" not in result.output
    path = out / "findings.ocsf.json"
    findings = json.loads(path.read_text()) if path.is_file() else []
    return result, findings


def failing(findings: list[dict]) -> set[tuple[str, str]]:
    return {(f["metadata"]["event_code"], f["resources"][0]["uid"]) for f in findings
            if f["status_code"] == "FAIL"}


def test_the_wallets_manifests_pass(tmp_path):
    result, findings = run(tmp_path, "--manifests", str(WALLET))
    assert result.exit_code == 0, result.output
    assert findings and {f["status_code"] for f in findings} == {"PASS"}


def test_rendered_manifests_report_each_planted_flaw_in_its_requirement_family(tmp_path):
    result, findings = run(tmp_path, "--manifests", str(PAYMENTS / "00-namespaces.yaml"),
                           "--manifests", str(PAYMENTS))
    assert result.exit_code == 1, result.output
    assert failing(findings) == PLANTED
    assert "document 7 is not a Kubernetes object" in result.output
    for f in findings:
        if f["status_code"] != "FAIL":
            continue
        pci = [r.split("/", 1)[1] for r in f["compliance"]["requirements"] if r.startswith("PCI DSS")]
        assert any(r.startswith(PCI_FAMILY[f["metadata"]["event_code"]]) for r in pci), f
        assert any(r.startswith("ISO/IEC 27001:2022/") for r in f["compliance"]["requirements"]), f


@pytest.mark.parametrize(("args", "message"), [
    (["--manifests", "/nonexistent/dir"], "no such file or directory"),
    (["--cde-label", "pci"], "expected KEY=VALUE"),
    (["--kubeconfig", "/nonexistent/kubeconfig"], "not found"),
    (["--manifests", "README.md", "--context", "prod"], "cannot be combined"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    result, _ = run(tmp_path, *args)
    assert result.exit_code == 2 and message in result.output


@pytest.fixture(scope="module")
def live():
    with api_server(load_documents([PAYMENTS])) as server:
        yield server


def test_a_live_cluster_reports_the_planted_flaws(live, tmp_path):
    result, findings = run(tmp_path, "--kubeconfig", str(live.kubeconfig(tmp_path / "kc")))
    assert result.exit_code == 1, result.output
    assert failing(findings) == PLANTED


def test_a_refused_list_is_an_error_finding_with_the_reason_and_exit_3(tmp_path):
    with api_server(load_documents([WALLET]), forbidden=("roles", "networkpolicies")) as server:
        kubeconfig = server.kubeconfig(tmp_path / "kc")
        result, findings = run(tmp_path, "--kubeconfig", str(kubeconfig), "--context", "payments")
    assert result.exit_code == 3, result.output
    errors = [f for f in findings if f["status_code"] == "ERROR"]
    assert {(f["metadata"]["event_code"], f["resources"][0]["uid"]) for f in errors} == {
        ("kubernetes.rbac.wildcards", "k8s:_cluster/Role/*"),
        ("kubernetes.network.cde_default_deny", "k8s:_cluster/Namespace/wallet")}
    assert all("Forbidden (403)" in f["message"] for f in errors), errors
    assert not failing(findings) and [f for f in findings if f["status_code"] == "PASS"]


@pytest.mark.parametrize(("how", "reason"), [
    ("expired", "Unauthorized (401)"),
    ("unreachable", "the API server could not be reached (connection refused)"),
])
def test_a_cluster_that_answers_nothing_is_error_findings_and_exit_2(tmp_path, how, reason):
    """Issue 15's contract: a scan in which no check could read anything exits 2, saying why."""
    with api_server(load_documents([WALLET])) as server:
        token = "expired" if how == "expired" else "scanner-token"
        kubeconfig = server.kubeconfig(tmp_path / "kc", token=token)
        if how == "expired":
            result, findings = run(tmp_path, "--kubeconfig", str(kubeconfig))
    if how == "unreachable":
        result, findings = run(tmp_path, "--kubeconfig", str(kubeconfig), "--timeout", "5")
    assert result.exit_code == 2, result.output
    assert "no check could read anything" in result.output and reason in result.output
    assert findings and all(f["status_code"] == "ERROR" and reason in f["message"] for f in findings)


def test_the_pre_commit_hook_scans_the_changed_files_it_is_given(tmp_path, monkeypatch):
    import re
    import shlex
    from pathlib import Path

    import yaml

    hook = yaml.safe_load((Path(__file__).resolve().parents[2] / ".pre-commit-hooks.yaml").read_text())
    (entry,) = [h for h in hook if h["id"] == "comply-kubernetes-manifests"]
    command = shlex.split(entry["entry"])
    assert command[:3] == ["comply", "scan", "kubernetes"] and entry["pass_filenames"] is True
    changed = [WALLET / "deployment.yaml", WALLET / "serviceaccount.yaml", PAYMENTS / "20-flawed.yaml"]
    assert all(re.search(entry["files"], str(p)) for p in changed)
    monkeypatch.chdir(tmp_path)
    clean = runner.invoke(app, [*command[1:], *map(str, changed[:2])])
    assert clean.exit_code == 0, clean.output
    flawed = runner.invoke(app, [*command[1:], *map(str, changed)])
    assert flawed.exit_code == 1 and "card-vault-debug" in flawed.output


def test_preparer_is_a_scan_option_stored_with_the_scan(tmp_path, monkeypatch):
    """--preparer (or COMPLY_PREPARER, or the config file) is shared by every scan command, stored with the
    scan like the organisation, and named on the cover of the report rendered then and later."""
    monkeypatch.setenv("COMPLY_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("COMPLY_PREPARER", "R. Auditor (QSA)")
    result, _ = run(tmp_path, "--manifests", str(WALLET), "--organisation", "Acme Pay",
                    "--format", "html,ocsf")
    assert result.exit_code == 0, result.output
    assert "R. Auditor (QSA)" in (tmp_path / "out" / "report.html").read_text()
    store = Store(f"sqlite:///{tmp_path / 'comply.db'}")
    scan = store.load_scan(store.latest_scan_id())
    assert (scan.organisation, scan.preparer) == ("Acme Pay", "R. Auditor (QSA)")
    monkeypatch.delenv("COMPLY_PREPARER")
    later = runner.invoke(app, ["report", scan.id, "--format", "html", "--out", str(tmp_path / "later"),
                                "--db", store.url])
    assert later.exit_code == 0, later.output
    assert "R. Auditor (QSA)" in (tmp_path / "later" / "report.html").read_text()
