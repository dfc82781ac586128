"""The live collector against an in-memory API server on 127.0.0.1, with the real client over HTTP."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import yaml

from compliance.collect.kubernetes.live import collect_cluster, connect
from compliance.collect.kubernetes.spec import KINDS
from compliance.collect.record import Outcome
from compliance.errors import UsageError
from compliance.findings import Status
from controls.kubernetes.inventory import KubernetesInventory
from controls.registry import all_checks, run_checks
from tests.kube_server import api_server, load_documents
from tests.kubernetes.planted import PAYMENTS, PLANTED


@pytest.fixture(scope="module")
def cluster():
    with api_server(load_documents([PAYMENTS]), forbidden={"roles"}) as server:
        yield server


def test_each_kind_is_listed_once_in_pages_and_every_page_is_evidence(cluster, tmp_path):
    cluster.emulator.lists.clear()
    records = collect_cluster(connect(cluster.kubeconfig(tmp_path / "kubeconfig")), page_size=2)
    deployments = [r for r in records if r.service == "Deployment"]
    count = sum(1 for d in load_documents([PAYMENTS]) if d["kind"] == "Deployment")
    assert len(deployments) == math.ceil(count / 2) and all(r.ok for r in deployments)
    assert sorted(r.params["page"] for r in deployments) == list(range(1, len(deployments) + 1))
    assert all("continue" in r.params for r in deployments if r.params["page"] > 1)
    assert sum(len(r.response["items"]) for r in deployments) == count
    first_pages = [(plural, params.get("limit")) for plural, _, params in cluster.emulator.lists
                   if "continue" not in params]
    assert len(first_pages) == len(KINDS) - 1  # Role is refused before it is listed
    assert {limit for _, limit in first_pages} == {"2"}
    assert all(r.sha256 and r.collected_at and r.source == "kubernetes" for r in records)


def test_a_refused_list_is_error_evidence_with_the_servers_reason(cluster, tmp_path):
    records = collect_cluster(connect(cluster.kubeconfig(tmp_path / "kubeconfig")))
    roles = [r for r in records if r.service == "Role"]
    assert [r.outcome for r in roles] == [Outcome.ERROR]
    assert roles[0].error_code == "Forbidden (403)"
    assert 'cannot list resource "roles"' in roles[0].error_message
    findings = list(run_checks(all_checks("kubernetes"), KubernetesInventory(records)))
    failures = {(f.check_id, f.resource_id) for f in findings if f.status is Status.FAIL}
    assert failures == {p for p in PLANTED if p[1] != "k8s:payments/Role/deployer"}
    errors = [f for f in findings if f.status is Status.ERROR]
    assert [(f.check_id, f.resource_id) for f in errors] == [
        ("kubernetes.rbac.wildcards", "k8s:_cluster/Role/*")]
    assert "Forbidden (403)" in errors[0].reason


def test_namespaces_are_listed_one_by_one_when_chosen(cluster, tmp_path):
    records = collect_cluster(connect(cluster.kubeconfig(tmp_path / "kubeconfig")), ["payments-batch"])
    scopes = {(r.service, r.scope) for r in records}
    assert ("CronJob", "payments-batch") in scopes and ("ClusterRole", None) in scopes
    namespace = [r for r in records if r.service == "Namespace"]
    assert [(r.operation, r.response["metadata"]["name"]) for r in namespace] == [("get", "payments-batch")]
    inv = KubernetesInventory(records)
    assert {o.name for o in inv.objects("CronJob")[0]} == {"reconcile-nightly"}


def test_an_expired_token_makes_every_listing_an_error(cluster, tmp_path):
    records = collect_cluster(connect(cluster.kubeconfig(tmp_path / "kubeconfig", token="expired")))
    assert len(records) == len(KINDS)
    assert {r.error_code for r in records} == {"Unauthorized (401)"}


def test_an_unreachable_server_makes_every_listing_an_error(tmp_path):
    with api_server() as server:
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    records = collect_cluster(connect(kubeconfig, timeout=5))
    assert {r.error_code for r in records} == {"Unreachable"}
    assert "connection refused" in records[0].error_message


def test_credentials_the_client_cannot_load_are_error_evidence(tmp_path):
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:1"}}],
        "users": [{"name": "u", "user": {"exec": {"apiVersion": "client.authentication.k8s.io/v1beta1",
                                                  "command": "/nonexistent/aws-iam-authenticator"}}}],
        "contexts": [{"name": "c", "context": {"cluster": "x", "user": "u"}}],
    }))
    cluster = connect(kubeconfig)
    records = collect_cluster(cluster)
    assert len(records) == len(KINDS) and all(r.outcome is Outcome.ERROR for r in records)
    assert cluster.identity["user"] == "u"


def test_bad_kubeconfig_input_is_a_usage_error(tmp_path):
    with pytest.raises(UsageError, match="not found"):
        connect(tmp_path / "missing")
    bad = tmp_path / "bad"
    bad.write_text("apiVersion: v1\nkind: Config\n")
    with pytest.raises(UsageError, match="kubeconfig"):
        connect(bad)
    with api_server() as server:
        kubeconfig = server.kubeconfig(tmp_path / "kubeconfig")
    with pytest.raises(UsageError, match="context 'prod' is not in"):
        connect(kubeconfig, "prod")


def test_the_default_kubeconfig_comes_from_the_environment(monkeypatch, tmp_path):
    from compliance.collect.kubernetes.live import default_kubeconfig

    monkeypatch.setenv("KUBECONFIG", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    assert default_kubeconfig() == Path(tmp_path / "a")
    monkeypatch.delenv("KUBECONFIG")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert default_kubeconfig() == tmp_path / ".kube" / "config"


def test_an_endless_listing_is_cut_and_recorded_as_an_error(cluster, tmp_path, monkeypatch):
    from compliance.collect.kubernetes import live

    monkeypatch.setattr(live, "MAX_PAGES", 2)
    records = collect_cluster(connect(cluster.kubeconfig(tmp_path / "kubeconfig")), page_size=1)
    deployments = sorted((r for r in records if r.service == "Deployment"), key=lambda r: r.params["page"])
    assert [r.outcome for r in deployments] == [Outcome.OK, Outcome.OK, Outcome.ERROR]
    assert deployments[-1].error_code == "TooManyPages"
    assert KubernetesInventory(records).objects("Deployment")[0] == []


def test_api_errors_without_a_status_body_keep_the_http_reason():
    from kubernetes.client.exceptions import ApiException

    from compliance.collect.kubernetes.live import _api_error

    gateway = ApiException(status=502, reason="Bad Gateway")
    assert _api_error(gateway) == ("Bad Gateway (502)", "Bad Gateway", None)
    exc = ApiException(status=500, reason="Internal Server Error")
    exc.body = "<html>oops</html>"
    assert _api_error(exc)[0] == "Internal Server Error (500)"
    assert _api_error(ValueError("odd\nsecond line")) == ("ValueError", "odd", None)
