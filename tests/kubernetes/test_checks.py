"""Check edge cases over hand-built inventories: live listings, missing data, and each rule's corners."""

from __future__ import annotations

from typing import Any

import pytest

from compliance.collect.kubernetes.redact import REDACTED, redact, secret_like
from compliance.collect.record import EvidenceRecord, Outcome
from compliance.findings import Status
from controls.kubernetes.inventory import KubernetesInventory
from controls.kubernetes.workloads import image_parts
from controls.registry import get_check

WHEN = "2026-01-01T00:00:00.000+00:00"
HARD = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "runAsNonRoot": True,
    "capabilities": {"drop": ["ALL"]},
}


def listed(kind: str, *items: dict[str, Any], namespace: str | None = None) -> EvidenceRecord:
    return EvidenceRecord(
        "kubernetes",
        kind,
        "list",
        namespace,
        {"limit": 250, "page": 1},
        WHEN,
        Outcome.OK,
        {"items": list(items)},
    )


def refused(kind: str, namespace: str | None = None) -> EvidenceRecord:
    return EvidenceRecord(
        "kubernetes",
        kind,
        "list",
        namespace,
        {"limit": 250, "page": 1},
        WHEN,
        Outcome.ERROR,
        error_code="Forbidden (403)",
        error_message=f"{kind} is forbidden",
    )


def pod(name: str = "p", ns: str = "pay", spec: dict | None = None, **meta: Any) -> dict[str, Any]:
    spec = (
        spec if spec is not None else {"containers": [{"name": "c", "image": "x", "securityContext": HARD}]}
    )
    return {"metadata": {"name": name, "namespace": ns, **meta}, "spec": spec}


def run(check_id: str, *records: EvidenceRecord, **options: Any):
    return get_check(check_id).run(KubernetesInventory(list(records), options))


def one(check_id: str, *records: EvidenceRecord, **options: Any):
    findings = [f for f in run(check_id, *records, **options) if f.resource_id.startswith("k8s:pay/Pod/")]
    assert len(findings) == 1, findings
    return findings[0]


def everything_else() -> list[EvidenceRecord]:
    kinds = ("Deployment", "StatefulSet", "DaemonSet", "ReplicaSet", "Job", "CronJob")
    return [listed(k) for k in kinds]


def test_a_kind_never_listed_is_an_error_never_a_pass():
    findings = run("kubernetes.workload.privileged", listed("Pod", pod()))
    errors = {f.resource_id for f in findings if f.status is Status.ERROR}
    assert "k8s:_cluster/Deployment/*" in errors and "k8s:_cluster/CronJob/*" in errors
    assert all("NotCollected" in f.reason for f in findings if f.status is Status.ERROR)


def test_a_refused_namespace_listing_hides_only_that_namespace():
    findings = run(
        "kubernetes.workload.privileged",
        listed("Pod", pod(ns="a"), namespace="a"),
        refused("Pod", "b"),
        *everything_else(),
    )
    assert {(f.resource_id, f.status) for f in findings} == {
        ("k8s:a/Pod/p", Status.PASS),
        ("k8s:b/Pod/*", Status.ERROR),
    }
    assert (
        "cannot list Pod objects in namespace b: Pod:list failed: Forbidden (403)" in findings[-1].reason
        or "Forbidden (403)" in findings[0].reason
    )


def test_a_workload_without_a_pod_spec_is_an_error():
    broken = {"metadata": {"name": "d", "namespace": "pay"}, "spec": {"template": "oops"}}
    findings = run(
        "kubernetes.workload.host_path", listed("Pod"), *everything_else()[1:], listed("Deployment", broken)
    )
    assert [(f.status, f.reason) for f in findings] == [
        (Status.ERROR, "Deployment d has no pod spec at spec.template.spec")
    ]
    token = run(
        "kubernetes.workload.sa_token_automount",
        listed("Pod"),
        *everything_else()[1:],
        listed("Deployment", broken),
    )
    assert token[0].status is Status.ERROR


@pytest.mark.parametrize(
    ("pod_ctx", "container_ctx", "status", "words"),
    [
        ({"runAsNonRoot": True}, {}, Status.PASS, "non-root"),
        ({}, {"runAsUser": 1000}, Status.PASS, "non-root"),
        ({"runAsUser": 0}, {}, Status.FAIL, "spec.securityContext.runAsUser is 0"),
        (
            {"runAsNonRoot": True},
            {"runAsUser": 0},
            Status.FAIL,
            "containers[0].securityContext.runAsUser is 0",
        ),
        (
            {"runAsNonRoot": True},
            {"runAsNonRoot": False},
            Status.FAIL,
            "containers[0].securityContext.runAsNonRoot",
        ),
        ({}, {}, Status.FAIL, "may run as root"),
    ],
)
def test_root_is_judged_from_pod_and_container_contexts(pod_ctx, container_ctx, status, words):
    spec = {
        "securityContext": pod_ctx,
        "containers": [{"name": "c", "image": "x", "securityContext": container_ctx}],
    }
    finding = one("kubernetes.workload.run_as_non_root", listed("Pod", pod(spec=spec)), *everything_else())
    assert finding.status is status and words in finding.reason


def test_init_and_ephemeral_containers_are_judged_where_they_apply():
    spec = {
        "initContainers": [{"name": "init", "image": "x", "securityContext": {"privileged": True}}],
        "ephemeralContainers": [{"name": "debug", "image": "x"}],
        "containers": [
            {
                "name": "c",
                "image": "x",
                "securityContext": HARD,
                "resources": {"limits": {"cpu": "1", "memory": "1Gi"}},
            }
        ],
    }
    records = (listed("Pod", pod(spec=spec)), *everything_else())
    privileged = one("kubernetes.workload.privileged", *records)
    assert privileged.reason == "container init: spec.initContainers[0].securityContext.privileged is true"
    assert one("kubernetes.workload.resource_limits", *records).status is Status.FAIL  # the init container
    assert "debug" in one("kubernetes.workload.privilege_escalation", *records).reason


def test_capabilities_accept_the_cap_prefix_and_net_bind_service():
    ctx = {**HARD, "capabilities": {"drop": ["all"], "add": ["CAP_NET_BIND_SERVICE"]}}
    spec = {"containers": [{"name": "c", "image": "x", "securityContext": ctx}]}
    assert (
        one("kubernetes.workload.capabilities", listed("Pod", pod(spec=spec)), *everything_else()).status
        is Status.PASS
    )


@pytest.mark.parametrize(
    ("image", "parts"),
    [
        ("nginx", ("docker.io", "nginx", None, None)),
        ("nginx:1.27", ("docker.io", "nginx", "1.27", None)),
        ("localhost:5000/app", ("localhost:5000", "app", None, None)),
        (
            "registry.example.com:5000/team/app:v1@sha256:abc",
            ("registry.example.com:5000", "team/app", "v1", "sha256:abc"),
        ),
        (
            "1234.dkr.ecr.eu-west-1.amazonaws.com/wallet@sha256:ff",
            ("1234.dkr.ecr.eu-west-1.amazonaws.com", "wallet", None, "sha256:ff"),
        ),
    ],
)
def test_image_references_are_split_like_the_container_runtime_does(image, parts):
    assert image_parts(image) == parts


def test_an_empty_image_fails_pinning():
    spec = {"containers": [{"name": "c", "securityContext": HARD}]}
    assert (
        "image is empty"
        in one("kubernetes.workload.image_pinned", listed("Pod", pod(spec=spec)), *everything_else()).reason
    )


def test_service_account_tokens():
    def token(spec_extra: dict, *records: EvidenceRecord):
        spec = {"containers": [{"name": "c", "image": "x"}], **spec_extra}
        return one(
            "kubernetes.workload.sa_token_automount",
            listed("Pod", pod(spec=spec)),
            *everything_else(),
            *records,
        )

    account = {"metadata": {"name": "api", "namespace": "pay"}, "automountServiceAccountToken": False}
    assert token({"serviceAccountName": "api"}, listed("ServiceAccount", account)).status is Status.PASS
    explicit = token({"automountServiceAccountToken": True}, listed("ServiceAccount"))
    assert explicit.status is Status.PASS and "on purpose" in explicit.reason
    unset = token(
        {"serviceAccountName": "api"},
        listed("ServiceAccount", {"metadata": {"name": "api", "namespace": "pay"}}),
    )
    assert unset.status is Status.FAIL and "sets no automountServiceAccountToken" in unset.reason
    unknown = token({}, refused("ServiceAccount"))
    assert unknown.status is Status.ERROR and "could not be read" in unknown.reason


def namespace(name: str, **labels: str) -> dict[str, Any]:
    return {"metadata": {"name": name, "labels": labels}}


def policy(ns: str, name: str, **spec: Any) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": ns}, "spec": spec}


def test_default_deny_needs_every_pod_and_both_directions():
    check = "kubernetes.network.cde_default_deny"
    cde = listed("Namespace", namespace("pay", **{"pci-scope": "cde"}), namespace("web"))
    split = listed(
        "NetworkPolicy",
        policy("pay", "in", podSelector={}),  # Ingress by default
        policy("pay", "out", podSelector={}, policyTypes=["Egress"]),
    )
    passed = run(check, cde, split)
    assert [(f.status, f.resource_id) for f in passed] == [(Status.PASS, "k8s:_cluster/Namespace/pay")]
    assert "ingress by in, egress by out" in passed[0].reason
    narrow = listed(
        "NetworkPolicy",
        policy("pay", "x", podSelector={"matchLabels": {"a": "b"}}, policyTypes=["Ingress", "Egress"]),
        policy("pay", "y", podSelector={}, egress=[{}]),
    )
    failed = run(check, cde, narrow)[0]
    assert failed.status is Status.FAIL and "NetworkPolicy for egress (" in failed.reason  # y denies ingress
    assert run(check, cde, refused("NetworkPolicy"))[0].status is Status.ERROR


def test_without_a_cde_label_segmentation_is_an_error_live_and_silent_offline():
    check = "kubernetes.network.cde_default_deny"
    unlabelled = run(check, listed("Namespace", namespace("web")), listed("NetworkPolicy"))
    assert [f.status for f in unlabelled] == [Status.ERROR] and "pci-scope=cde" in unlabelled[0].reason
    assert (
        run(
            check,
            listed("Namespace", namespace("web", zone="pci")),
            listed("NetworkPolicy"),
            cde_label=("zone", "pci"),
        )[0].status
        is Status.FAIL
    )
    offline = EvidenceRecord(
        "kubernetes", "manifests", "read", None, {"path": "a.yaml"}, WHEN, Outcome.OK, {}
    )
    assert run(check, offline) == []
    assert [f.status for f in run(check, refused("Namespace"))] == [Status.ERROR]


def test_rbac_corners():
    roles = listed(
        "ClusterRole",
        {"metadata": {"name": "system:node"}, "rules": [{"verbs": ["*"]}]},
        {"metadata": {"name": "viewer"}, "rules": ["junk", {"verbs": ["get"], "resources": ["pods"]}]},
    )
    findings = run("kubernetes.rbac.wildcards", roles, refused("Role"))
    assert {(f.resource_id, f.status) for f in findings} == {
        ("k8s:_cluster/ClusterRole/viewer", Status.PASS),
        ("k8s:_cluster/Role/*", Status.ERROR),
    }
    bindings = listed(
        "ClusterRoleBinding",
        {
            "metadata": {"name": "addon"},
            "roleRef": {"kind": "ClusterRole", "name": "cluster-admin"},
            "subjects": [{"kind": "ServiceAccount", "name": "addon", "namespace": "kube-system"}],
        },
        {
            "metadata": {"name": "view"},
            "roleRef": {"kind": "ClusterRole", "name": "view"},
            "subjects": [{"kind": "User", "name": "bob"}],
        },
    )
    findings = run("kubernetes.rbac.cluster_admin_binding", bindings, listed("RoleBinding"))
    assert [(f.resource_id, f.status) for f in findings] == [
        ("k8s:_cluster/ClusterRoleBinding/addon", Status.PASS)
    ]


def test_redaction_keeps_names_and_hides_values():
    obj = {
        "kind": "Secret",
        "data": {"k": "c2VjcmV0"},
        "metadata": {
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": '{"password":"x"}',
                "team": "pay",
            }
        },
        "spec": {
            "containers": [
                {"env": [{"name": "API_KEY", "value": "abc"}, {"name": "MODE", "value": "live"}, "odd"]}
            ]
        },
    }
    clean = redact(obj)
    assert clean["data"] == {"k": REDACTED}
    assert clean["metadata"]["annotations"] == {
        "kubectl.kubernetes.io/last-applied-configuration": REDACTED,
        "team": "pay",
    }
    assert clean["spec"]["containers"][0]["env"] == [
        {"name": "API_KEY", "value": REDACTED},
        {"name": "MODE", "value": "live"},
        "odd",
    ]
    assert secret_like("URL", "amqp://u:p@host/") and not secret_like("URL", "https://host/")
    assert not secret_like("PASSWORD", "")
