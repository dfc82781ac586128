"""The checks over rendered manifests: every planted flaw on its object, nothing on hardened ones."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from compliance.collect.kubernetes.manifests import read_manifests
from compliance.findings import Finding, Status
from compliance.frameworks import load
from controls.kubernetes.inventory import KubernetesInventory
from controls.registry import all_checks, run_checks
from tests.kubernetes.planted import BROKEN, CLEAN, PAYMENTS, PCI_FAMILY, PLANTED, WALLET

CHECK_IDS = [c.id for c in all_checks("kubernetes")]


def scan(*paths: Path, namespaces: tuple[str, ...] = (), **options) -> list[Finding]:
    read = read_manifests(list(paths), namespaces)
    return list(run_checks(all_checks("kubernetes"), KubernetesInventory(read.records, options)))


@pytest.fixture(scope="module")
def payments() -> list[Finding]:
    return scan(PAYMENTS)


@pytest.fixture(scope="module")
def wallet() -> list[Finding]:
    return scan(WALLET)


@pytest.fixture(scope="module")
def broken() -> list[Finding]:
    return scan(BROKEN, WALLET)


def test_every_planted_flaw_is_reported_on_its_object_and_nothing_else_fails(payments):
    failures = {(f.check_id, f.resource_id) for f in payments if f.status is Status.FAIL}
    assert failures == PLANTED
    assert not [f for f in payments if f.status is Status.ERROR]


def test_hardened_objects_beside_the_flaws_are_assessed_and_pass(payments):
    for uid in CLEAN:
        mine = [f for f in payments if f.resource_id == uid]
        assert mine, uid
        assert {f.status for f in mine} == {Status.PASS}, [(f.check_id, f.reason) for f in mine]


def test_owned_pods_are_judged_through_their_owner(payments):
    assert not [f for f in payments if "ledger-7d9f" in f.resource_id]


def test_the_wallets_own_manifests_fail_nothing(wallet):
    assert wallet
    assert {f.status for f in wallet} == {Status.PASS}, [(f.check_id, f.reason) for f in wallet
                                                         if f.status is not Status.PASS]
    workload_checks = {c for c in CHECK_IDS if c.startswith("kubernetes.workload.")}
    for kind_name in ("k8s:wallet/Deployment/wallet-api", "k8s:wallet/Job/wallet-db-migrate"):
        assert {f.check_id for f in wallet if f.resource_id == kind_name} == workload_checks


@pytest.mark.parametrize("check_id", CHECK_IDS)
def test_each_check_passes_fails_and_errors(check_id, payments, wallet, broken):
    def statuses(findings):
        return {f.status for f in findings if f.check_id == check_id}

    assert Status.FAIL in statuses(payments)
    assert Status.PASS in statuses(payments) | statuses(wallet)
    errors = [f for f in broken if f.check_id == check_id and f.status is Status.ERROR]
    assert errors and all("bad.yaml" in f.resource_id + f.reason for f in errors)
    assert any(f.resource_id.endswith("bad.yaml") and "cannot read manifest" in f.reason for f in errors)


def test_failures_name_the_container_and_the_field_path(payments):
    by = {(f.check_id, f.resource_id): f for f in payments}
    reason = by["kubernetes.workload.privileged", "k8s:payments/Deployment/card-vault-debug"].reason
    assert reason == "container shell: spec.template.spec.containers[0].securityContext.privileged is true"
    cron = by["kubernetes.workload.image_pinned", "k8s:payments-batch/CronJob/reconcile-nightly"].reason
    assert "spec.jobTemplate.spec.template.spec.containers[0].image" in cron
    assert "spec.template.spec.hostPID is true" in by[
        "kubernetes.workload.host_namespaces", "k8s:observability/DaemonSet/log-shipper"].reason


def test_each_failure_maps_to_the_right_pci_family_and_to_iso():
    pci, iso = load("pci-dss-4.0.1"), load("iso27001-2022")
    for check_id, family in PCI_FAMILY.items():
        pci_ids = [r.id for r in pci.requirements if check_id in r.checks]
        assert any(r.startswith(family) for r in pci_ids), (check_id, pci_ids)
        assert [r.id for r in iso.requirements if check_id in r.checks], check_id


def test_credentials_never_reach_the_evidence_nor_the_reasons(payments):
    read = read_manifests([PAYMENTS])
    text = json.dumps([r.as_dict() for r in read.records])
    assert "Summer2026!" not in text and "hunter2" not in text
    assert "<redacted by comply>" in text
    assert not [f for f in payments if "hunter2" in f.reason or "Summer2026" in f.reason]


def test_non_kubernetes_documents_are_skipped_with_a_warning():
    read = read_manifests([PAYMENTS])
    assert read.warnings == [f"{PAYMENTS / '00-namespaces.yaml'}: document 7 is not a Kubernetes object "
                             "(no apiVersion/kind); skipped"]


def test_namespace_filter_keeps_cluster_scoped_objects():
    findings = scan(PAYMENTS, namespaces=("payments-batch",))
    failures = {(f.check_id, f.resource_id) for f in findings if f.status is Status.FAIL}
    assert failures == {p for p in PLANTED if p[1].startswith(("k8s:payments-batch/", "k8s:_cluster/"))}


def test_cde_label_and_approved_registries_are_options():
    findings = scan(PAYMENTS, cde_label=("team", "platform"),
                    approved_registries=["ghcr.io", "*.dkr.ecr.*.amazonaws.com"])
    deny = {f.resource_id: f.status for f in findings if f.check_id == "kubernetes.network.cde_default_deny"}
    assert deny == {"k8s:_cluster/Namespace/observability": Status.FAIL}
    registry = {f.resource_id for f in findings
                if f.check_id == "kubernetes.workload.approved_registry" and f.status is Status.FAIL}
    assert registry == {"k8s:payments-batch/CronJob/reconcile-nightly"}
