"""Reading manifests: folders, JSON, lists, defaults, and files that cannot be read."""

from __future__ import annotations

import json

import pytest

from compliance.collect.kubernetes.manifests import manifest_files, read_manifests
from compliance.collect.record import Outcome
from compliance.errors import UsageError
from compliance.targets.kubernetes import KubernetesTarget, parse_label, wallet_manifests
from controls.kubernetes.inventory import KubernetesInventory


def test_folders_are_walked_for_yaml_and_json_in_order(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.yml").write_text("apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: x}\n")
    (tmp_path / "a.json").write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "y", "namespace": "pay"}}, 7]}))
    (tmp_path / "notes.txt").write_text("not a manifest")
    assert manifest_files([tmp_path, tmp_path / "a.json"]) == [tmp_path / "a.json", tmp_path / "b" / "x.yml"]
    read = read_manifests([tmp_path])
    accounts, failures = KubernetesInventory(read.records).objects("ServiceAccount")
    assert {(a.uid, a.record.params["path"]) for a in accounts} == {
        ("k8s:default/ServiceAccount/x", str(tmp_path / "b" / "x.yml")),
        ("k8s:pay/ServiceAccount/y", str(tmp_path / "a.json"))}
    assert failures == []
    assert read.warnings == [
        f"{tmp_path / 'a.json'}: an item of document 1 is not a Kubernetes object; skipped"]


def test_an_unreadable_file_is_error_evidence_and_a_warning(tmp_path):
    (tmp_path / "bin.yaml").write_bytes(b"\xff\xfe\x00kind")
    read = read_manifests([tmp_path])
    (record,) = read.records
    assert record.outcome is Outcome.ERROR and record.error_code == "UnicodeDecodeError"
    assert read.warnings[0].startswith(f"{tmp_path / 'bin.yaml'}: cannot be read")
    inv = KubernetesInventory(read.records)
    assert inv.offline and inv.objects("Pod") == ([], [record])


def test_the_target_validates_its_input_before_collecting(tmp_path):
    with pytest.raises(UsageError, match=r"no \.yaml"):
        KubernetesTarget(manifests=[tmp_path]).connect()
    with pytest.raises(UsageError, match="cannot be combined"):
        KubernetesTarget(manifests=[wallet_manifests()], context="prod").connect()
    with pytest.raises(UsageError, match="KEY=VALUE"):
        parse_label("=cde")
    assert parse_label(" zone = pci ") == ("zone", "pci")


def test_the_target_collects_manifests_with_scope_and_options():
    target = KubernetesTarget(manifests=[wallet_manifests()], cde_label="pci-scope=cde",
                              approved_registries=["*.dkr.ecr.*.amazonaws.com"])
    target.connect()
    seen: list[tuple[int, int]] = []
    collected = target.collect(lambda done, total: seen.append((done, total)))
    assert collected.scope["source"] == "manifests" and seen == [(1, 1)]
    inv = target.inventory(collected)
    assert inv.options["cde_label"] == ("pci-scope", "cde")
    assert {o.name for o in inv.objects("Deployment")[0]} == {"wallet-api"}
