"""Workloads and their containers, found wherever a pod template sits in each workload kind."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from compliance.collect.record import EvidenceRecord
from controls.kubernetes.inventory import CLUSTER, K8sObject, KubernetesInventory
from controls.registry import Verdict, errored

POD_SPEC_PATHS: dict[str, tuple[str, ...]] = {
    "Pod": ("spec",),
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "ReplicaSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
WORKLOAD_KINDS = tuple(POD_SPEC_PATHS)
CONTAINER_LISTS = ("initContainers", "containers", "ephemeralContainers")


@dataclass(frozen=True)
class Container:
    name: str
    data: dict[str, Any]
    path: str
    """Where the container sits, e.g. ``spec.template.spec.containers[0]``."""

    @property
    def security(self) -> dict[str, Any]:
        ctx = self.data.get("securityContext")
        return ctx if isinstance(ctx, dict) else {}

    @property
    def image(self) -> str:
        return str(self.data.get("image") or "")


@dataclass(frozen=True)
class Workload:
    obj: K8sObject
    spec: dict[str, Any]
    path: str
    """Where the pod spec sits in the object, e.g. ``spec.template.spec``."""

    @property
    def uid(self) -> str:
        return self.obj.uid

    @property
    def record(self) -> EvidenceRecord:
        return self.obj.record

    @property
    def pod_security(self) -> dict[str, Any]:
        ctx = self.spec.get("securityContext")
        return ctx if isinstance(ctx, dict) else {}

    def containers(self) -> Iterator[Container]:
        for key in CONTAINER_LISTS:
            for index, data in enumerate(self.spec.get(key) or []):
                if isinstance(data, dict):
                    yield Container(str(data.get("name") or f"#{index}"), data, f"{self.path}.{key}[{index}]")


def _pod_spec(obj: K8sObject) -> dict[str, Any] | None:
    node: Any = obj.data
    for key in POD_SPEC_PATHS[obj.kind]:
        node = node.get(key) if isinstance(node, dict) else None
    return node if isinstance(node, dict) else None


def controlled(obj: K8sObject) -> bool:
    """Made by another workload (a Deployment's ReplicaSet, a ReplicaSet's Pod, a CronJob's Job): the
    owner is checked instead, so each flaw is reported once, on the object a person edits."""
    owners = obj.metadata.get("ownerReferences") or []
    return any(isinstance(o, dict) and o.get("kind") in POD_SPEC_PATHS for o in owners)


def workloads(inv: KubernetesInventory) -> tuple[list[Workload], list[EvidenceRecord]]:
    found: list[Workload] = []
    failures: list[EvidenceRecord] = []
    for kind in WORKLOAD_KINDS:
        objects, failed = inv.objects(kind)
        failures.extend(failed)
        for obj in objects:
            if controlled(obj):
                continue
            spec = _pod_spec(obj)
            found.append(Workload(obj, spec or {}, ".".join(POD_SPEC_PATHS[kind])))
    return found, list({rec.id: rec for rec in failures}.values())


def listing_errors(failures: Iterable[EvidenceRecord], what: str = "workloads") -> Iterator[Verdict]:
    """One ERROR per listing (or manifest file) that failed, on a wildcard resource."""
    for rec in failures:
        if rec.service == "manifests":
            path = rec.params.get("path", "?")
            yield errored(f"k8s:manifest/{path}", f"cannot read manifest {path}, so {what} in it are "
                          f"unchecked: {rec.error_code}: {rec.error_message}", rec)
        else:
            where = f"namespace {rec.scope}" if rec.scope else "the cluster"
            yield errored(f"k8s:{rec.scope or CLUSTER}/{rec.service}/*",
                          f"cannot list {rec.service} objects in {where}: {rec.error}", rec)


def why_missing(rec: EvidenceRecord) -> str:
    """A failed listing or unreadable manifest file, in one line."""
    if rec.service == "manifests":
        path = rec.params.get("path", "?")
        return f"manifest {path} could not be read ({rec.error_code}: {rec.error_message})"
    return rec.error
