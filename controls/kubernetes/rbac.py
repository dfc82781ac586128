"""RBAC checks: no wildcard grants in the organisation's roles, and cluster-admin only for the system."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliance.findings import Severity
from controls.kubernetes.inventory import K8sObject, KubernetesInventory
from controls.kubernetes.pods import listing_errors
from controls.registry import Verdict, check, failed, passed

CLUSTER_ADMIN = "cluster-admin"
BOOTSTRAP_LABEL = ("kubernetes.io/bootstrapping", "rbac-defaults")


def built_in(obj: K8sObject) -> bool:
    """Roles the API server creates and reconciles itself (cluster-admin, system:*): not ours to judge."""
    return obj.name.startswith("system:") or obj.labels.get(BOOTSTRAP_LABEL[0]) == BOOTSTRAP_LABEL[1]


def _wildcards(obj: K8sObject) -> list[str]:
    out = []
    for index, rule in enumerate(obj.get("rules") or []):
        if not isinstance(rule, dict):
            continue
        for key in ("verbs", "resources"):
            if "*" in (rule.get(key) or []):
                out.append(f"rules[{index}].{key} contains '*'")
    return out


@check("kubernetes.rbac.wildcards", severity=Severity.HIGH, resource_type="KubernetesRole",
       title="Roles grant named verbs on named resources, never '*'",
       rationale="""A wildcard grants every verb or every resource, including ones added later (secrets,
       escalate, impersonate): least privilege needs each permission to be listed on purpose.""",
       remediation="""Replace '*' in the role's `verbs` and `resources` with the exact verbs and resources
       the subject needs (`kubectl auth can-i --list --as ...` shows what it uses today).""")
def wildcards(inv: KubernetesInventory) -> Iterator[Verdict]:
    for kind in ("ClusterRole", "Role"):
        roles, failures = inv.objects(kind)
        yield from listing_errors(failures, "roles")
        for role in roles:
            if built_in(role):
                continue
            found = _wildcards(role)
            if found:
                yield failed(role.uid, f"{kind} {role.name}: " + "; ".join(found), role.record)
            else:
                yield passed(role.uid, f"{kind} {role.name} lists its verbs and resources", role.record)


def system_subject(subject: dict[str, Any]) -> bool:
    kind, name = subject.get("kind"), str(subject.get("name", ""))
    if kind == "ServiceAccount":
        return subject.get("namespace") == "kube-system"
    return name.startswith("system:")


def _subject(subject: dict[str, Any]) -> str:
    where = f" in {subject['namespace']}" if subject.get("namespace") else ""
    return f"{subject.get('kind', '?')} {subject.get('name', '?')}{where}"


@check("kubernetes.rbac.cluster_admin_binding", severity=Severity.CRITICAL,
       resource_type="KubernetesRoleBinding",
       title="cluster-admin is bound only to system subjects",
       rationale="""cluster-admin can do anything in every namespace, including reading every secret. People
       and applications should hold roles scoped to their work, with break-glass access kept apart.""",
       remediation="""Delete the binding (`kubectl delete clusterrolebinding NAME`) and bind a role with only
       the permissions needed; keep emergency access through a separately controlled group.""")
def cluster_admin_binding(inv: KubernetesInventory) -> Iterator[Verdict]:
    for kind in ("ClusterRoleBinding", "RoleBinding"):
        bindings, failures = inv.objects(kind)
        yield from listing_errors(failures, "role bindings")
        for binding in bindings:
            ref = binding.get("roleRef") if isinstance(binding.get("roleRef"), dict) else {}
            if ref.get("kind") != "ClusterRole" or ref.get("name") != CLUSTER_ADMIN:
                continue
            subjects = [s for s in binding.get("subjects") or [] if isinstance(s, dict)]
            others = [s for s in subjects if not system_subject(s)]
            if others:
                yield failed(binding.uid, f"{kind} {binding.name} binds cluster-admin to "
                             + ", ".join(map(_subject, others)), binding.record)
            else:
                yield passed(binding.uid, f"{kind} {binding.name} binds cluster-admin only to system "
                             "subjects", binding.record)
