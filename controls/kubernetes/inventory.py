"""The collected Kubernetes objects, indexed for checks. Pure data: no client, no I/O.

One type for both sources: live list pages (operation ``list``/``get``) and manifest documents
(operation ``manifest``). The difference that matters to a check is what missing data means: a kind
the live collector could not list is a failure (the check says ERROR), while a kind absent from the
manifests is simply not there.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from compliance.collect.record import EvidenceRecord, Outcome

CLUSTER = "_cluster"
"""The namespace part of a cluster-scoped object's id; no real namespace can have this name."""
MANIFEST_FILES = "manifests"


@dataclass(frozen=True)
class K8sObject:
    """One object, with the record it came from."""

    kind: str
    data: dict[str, Any]
    record: EvidenceRecord

    @property
    def metadata(self) -> dict[str, Any]:
        meta = self.data.get("metadata")
        return meta if isinstance(meta, dict) else {}

    @property
    def name(self) -> str:
        return str(self.metadata.get("name") or "?")

    @property
    def namespace(self) -> str | None:
        """The namespace as collected (a manifest without one is placed where kubectl would put it)."""
        ns = self.metadata.get("namespace")
        if ns:
            return str(ns)
        return self.record.scope if self.record.operation == "manifest" else None

    @property
    def uid(self) -> str:
        """The finding's resource id: ``k8s:NAMESPACE/KIND/NAME``."""
        return f"k8s:{self.namespace or CLUSTER}/{self.kind}/{self.name}"

    @property
    def labels(self) -> dict[str, str]:
        labels = self.metadata.get("labels")
        return {str(k): str(v) for k, v in labels.items()} if isinstance(labels, dict) else {}

    def get(self, key: str, default: Any = None) -> Any:
        return self.data.get(key, default)


@dataclass
class KubernetesInventory:
    records: list[EvidenceRecord] = field(default_factory=list)
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._by_kind: dict[str, list[EvidenceRecord]] = {}
        self.unreadable: list[EvidenceRecord] = []
        self.offline = False
        for rec in self.records:
            if rec.service == MANIFEST_FILES:
                self.offline = True
                if rec.outcome is Outcome.ERROR:
                    self.unreadable.append(rec)
            else:
                self._by_kind.setdefault(rec.service, []).append(rec)

    def objects(self, kind: str) -> tuple[list[K8sObject], list[EvidenceRecord]]:
        """The objects of a kind, and the records of listings that failed.

        Live: a kind with no record at all was never listed, and counts as failed. Offline: every
        unreadable manifest file counts as failed for every kind, since it may have held some.
        """
        records = self._by_kind.get(kind, [])
        if self.offline:
            return [K8sObject(kind, rec.response, rec) for rec in records
                    if rec.outcome is Outcome.OK and isinstance(rec.response, dict)], list(self.unreadable)
        if not records:
            return [], [EvidenceRecord("kubernetes", kind, "list", None, {}, "", Outcome.ERROR,
                                       error_code="NotCollected", error_message="no record of this listing")]
        failures = [rec for rec in records if rec.outcome is Outcome.ERROR]
        failed_scopes = {rec.scope for rec in failures}
        items: list[K8sObject] = []
        for rec in records:
            if rec.outcome is not Outcome.OK or rec.scope in failed_scopes:
                continue
            body = rec.response if isinstance(rec.response, dict) else {}
            if rec.operation == "get":
                items.append(K8sObject(kind, body, rec))
            else:
                items.extend(K8sObject(kind, item, rec) for item in body.get("items") or []
                             if isinstance(item, dict))
        return items, failures

    def namespaces(self) -> tuple[list[K8sObject], list[EvidenceRecord]]:
        return self.objects("Namespace")
