"""Network policy checks: every namespace in the cardholder-data environment denies by default."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from compliance.findings import Severity
from controls.kubernetes.inventory import CLUSTER, K8sObject, KubernetesInventory
from controls.kubernetes.pods import listing_errors, why_missing
from controls.registry import Verdict, check, errored, failed, passed

DEFAULT_CDE_LABEL = ("pci-scope", "cde")
DIRECTIONS = ("Ingress", "Egress")


def cde_label(inv: KubernetesInventory) -> tuple[str, str]:
    label = inv.options.get("cde_label")
    if not label:
        return DEFAULT_CDE_LABEL
    key, value = label
    return str(key), str(value)


def selects_every_pod(policy: K8sObject) -> bool:
    spec = policy.get("spec") if isinstance(policy.get("spec"), dict) else {}
    selector = spec.get("podSelector")
    if selector is None:
        return False
    return not (selector.get("matchLabels") or selector.get("matchExpressions"))


def policy_types(spec: dict[str, Any]) -> list[str]:
    """Kubernetes' default when policyTypes is absent: Ingress, plus Egress if egress rules exist."""
    declared = spec.get("policyTypes")
    if declared:
        return [str(t) for t in declared]
    return ["Ingress", *(["Egress"] if "egress" in spec else [])]


def denies_all(policy: K8sObject, direction: str) -> bool:
    """A policy on every pod that takes part in `direction` and allows nothing in it."""
    spec = policy.get("spec") if isinstance(policy.get("spec"), dict) else {}
    return (selects_every_pod(policy) and direction in policy_types(spec)
            and not spec.get(direction.lower()))


@check("kubernetes.network.cde_default_deny", severity=Severity.HIGH, resource_type="KubernetesNamespace",
       title="Namespaces in the CDE deny ingress and egress by default",
       rationale="""Pods accept traffic from anywhere in the cluster and reach anywhere unless a NetworkPolicy
       says otherwise. Segmenting the cardholder-data environment needs a default-deny policy in each of its
       namespaces, with every allowed flow then added on purpose.""",
       remediation="""Add a NetworkPolicy with `podSelector: {}` and `policyTypes: [Ingress, Egress]` and no
       rules to the namespace, then allow the flows the workloads need with narrower policies; label the
       CDE's namespaces (default `pci-scope=cde`, see --cde-label).""")
def cde_default_deny(inv: KubernetesInventory) -> Iterator[Verdict]:
    """ERROR when namespaces are known but none is labelled as CDE: segmentation cannot be judged then.

    Manifests that declare no Namespace at all (a chart, one changed file in a pre-commit hook) give
    no finding, so the requirement stays Not Tested rather than passing.
    """
    key, value = cde_label(inv)
    namespaces, failures = inv.namespaces()
    yield from listing_errors(failures, "namespaces")
    in_scope = [ns for ns in namespaces if ns.labels.get(key) == value]
    if not namespaces and not failures and inv.offline:
        return  # manifests that declare no namespace (one changed file, a chart): nothing to judge here
    if not in_scope and not failures:
        yield errored(f"k8s:{CLUSTER}/Namespace/*", f"no namespace carries the CDE label {key}={value}, so "
                      "segmentation cannot be judged: label the CDE's namespaces or pass --cde-label",
                      *(ns.record for ns in namespaces[:20]))
        return
    policies, policy_failures = inv.objects("NetworkPolicy")
    by_namespace: dict[str | None, list[K8sObject]] = {}
    for policy in policies:
        by_namespace.setdefault(policy.namespace, []).append(policy)
    for ns in in_scope:
        uid = ns.uid
        broken = [f for f in policy_failures if f.scope in (None, ns.name) or f.service == "manifests"]
        if broken:
            yield errored(uid, f"namespace {ns.name} is in the CDE but its NetworkPolicies could not be "
                          f"read: {why_missing(broken[0])}", ns.record, *broken)
            continue
        own = by_namespace.get(ns.name, [])
        deny = {d: [p.name for p in own if denies_all(p, d)] for d in DIRECTIONS}
        missing = [d.lower() for d in DIRECTIONS if not deny[d]]
        evidence = (ns.record, *(p.record for p in own))
        if missing:
            yield failed(uid, f"namespace {ns.name} ({key}={value}) has no default-deny NetworkPolicy for "
                         f"{' or '.join(missing)} (podSelector {{}}, policyTypes {', '.join(DIRECTIONS)}, "
                         "no rules)", *evidence)
        else:
            yield passed(uid, f"namespace {ns.name} denies by default: ingress by "
                         f"{', '.join(deny['Ingress'])}, egress by {', '.join(deny['Egress'])}", *evidence)
