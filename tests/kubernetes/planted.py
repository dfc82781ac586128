"""The flaws planted in tests/fixtures/kubernetes/payments, each on the object it must be reported on."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "kubernetes"
PAYMENTS = FIXTURES / "payments"
BROKEN = FIXTURES / "broken"
WALLET = Path(__file__).resolve().parents[2] / "wallet" / "kubernetes"

PLANTED: frozenset[tuple[str, str]] = frozenset({
    ("kubernetes.workload.privileged", "k8s:payments/Deployment/card-vault-debug"),
    ("kubernetes.workload.privilege_escalation", "k8s:payments/Deployment/card-vault-debug"),
    ("kubernetes.workload.privilege_escalation", "k8s:payments/Deployment/fraud-scorer"),
    ("kubernetes.workload.run_as_non_root", "k8s:payments/StatefulSet/settlement-db"),
    ("kubernetes.workload.host_namespaces", "k8s:observability/DaemonSet/log-shipper"),
    ("kubernetes.workload.host_path", "k8s:observability/DaemonSet/log-shipper"),
    ("kubernetes.workload.read_only_root_fs", "k8s:payments/Deployment/gateway"),
    ("kubernetes.workload.capabilities", "k8s:payments/Deployment/gateway"),
    ("kubernetes.workload.resource_limits", "k8s:payments/Deployment/tokenizer"),
    ("kubernetes.workload.image_pinned", "k8s:payments-batch/CronJob/reconcile-nightly"),
    ("kubernetes.workload.approved_registry", "k8s:payments-batch/CronJob/reconcile-nightly"),
    ("kubernetes.workload.image_pinned", "k8s:payments/Deployment/notifier"),
    ("kubernetes.workload.approved_registry", "k8s:payments/Deployment/notifier"),
    ("kubernetes.workload.secret_env_literal", "k8s:payments/Deployment/merchant-api"),
    ("kubernetes.workload.sa_token_automount", "k8s:payments/Deployment/webhooks"),
    ("kubernetes.network.cde_default_deny", "k8s:_cluster/Namespace/payments-batch"),
    ("kubernetes.rbac.wildcards", "k8s:_cluster/ClusterRole/ops-superuser"),
    ("kubernetes.rbac.wildcards", "k8s:payments/Role/deployer"),
    ("kubernetes.rbac.cluster_admin_binding", "k8s:_cluster/ClusterRoleBinding/ops-admins"),
    ("kubernetes.rbac.cluster_admin_binding", "k8s:payments/RoleBinding/ci-admin"),
})

CLEAN = ("k8s:payments/Deployment/ledger", "k8s:payments/Job/ledger-migrate",
         "k8s:_cluster/Namespace/payments", "k8s:payments/Role/ledger-reader",
         "k8s:_cluster/ClusterRoleBinding/cluster-admin")
"""Hardened objects beside the flawed ones: each must have findings, and none may FAIL."""

PCI_FAMILY = {
    "kubernetes.workload.privileged": "2.", "kubernetes.workload.privilege_escalation": "2.",
    "kubernetes.workload.run_as_non_root": "2.", "kubernetes.workload.host_namespaces": "2.",
    "kubernetes.workload.host_path": "2.", "kubernetes.workload.read_only_root_fs": "2.",
    "kubernetes.workload.capabilities": "2.", "kubernetes.workload.resource_limits": "2.",
    "kubernetes.workload.image_pinned": "6.", "kubernetes.workload.approved_registry": "6.",
    "kubernetes.workload.secret_env_literal": "8.", "kubernetes.workload.sa_token_automount": "7.",
    "kubernetes.network.cde_default_deny": "1.", "kubernetes.rbac.wildcards": "7.",
    "kubernetes.rbac.cluster_admin_binding": "7.",
}
"""The PCI DSS requirement family each check's failure must be mapped into."""
