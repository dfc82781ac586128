"""Offline collection: rendered manifests (Helm or Kustomize output, kubectl YAML) read from files.

Every Kubernetes document becomes one evidence record; a file that cannot be parsed becomes one ERROR
record, so the checks fail closed instead of passing over what they could not read. Documents that are
not Kubernetes objects are skipped with a warning.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from compliance.collect.kubernetes.redact import redact
from compliance.collect.record import EvidenceRecord, Outcome, jsonable, utcnow
from compliance.errors import UsageError

SOURCE = "kubernetes"
SUFFIXES = (".yaml", ".yml", ".json")
FILE_SERVICE = "manifests"
DEFAULT_NAMESPACE = "default"
"""Where kubectl puts a namespaced object whose manifest names no namespace."""
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""libyaml's safe loader when PyYAML was built with it (ten times faster on large renders)."""
CLUSTER_SCOPED = frozenset({
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "PriorityClass", "ValidatingWebhookConfiguration", "MutatingWebhookConfiguration",
    "APIService", "IngressClass", "RuntimeClass", "Node", "CSIDriver",
})


@dataclass
class ManifestCollection:
    records: list[EvidenceRecord] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def manifest_files(paths: Iterable[Path]) -> list[Path]:
    """Files named on the command line, and YAML/JSON files under named folders, in a stable order.

    A path that does not exist is bad input, refused before anything is read.
    """
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES))
        elif path.is_file():
            files.append(path)
        else:
            raise UsageError(f"--manifests {path}: no such file or directory")
    return list(dict.fromkeys(files))


def is_kubernetes_object(doc: Any) -> bool:
    return (isinstance(doc, dict) and isinstance(doc.get("apiVersion"), str) and bool(doc["apiVersion"])
            and isinstance(doc.get("kind"), str) and bool(doc["kind"]))


def namespace_of(doc: dict[str, Any]) -> str | None:
    if doc["kind"] in CLUSTER_SCOPED:
        return None
    meta = doc.get("metadata") if isinstance(doc.get("metadata"), dict) else {}
    return str(meta.get("namespace") or DEFAULT_NAMESPACE)


def _objects(docs: list[Any], label: str,
             warnings: list[str]) -> Iterator[tuple[int, int | None, dict[str, Any]]]:
    """Kubernetes objects of a file with their document index; `kind: List` documents are expanded."""
    for index, doc in enumerate(docs):
        if doc is None:
            continue
        if not is_kubernetes_object(doc):
            warnings.append(f"{label}: document {index + 1} is not a Kubernetes object (no apiVersion/kind); "
                            "skipped")
            continue
        if doc["kind"] == "List" or (doc["kind"].endswith("List") and isinstance(doc.get("items"), list)):
            for position, item in enumerate(doc.get("items") or []):
                if is_kubernetes_object(item):
                    yield index, position, item
                else:
                    warnings.append(f"{label}: an item of document {index + 1} is not a Kubernetes object; "
                                    "skipped")
            continue
        yield index, None, doc


def read_manifests(paths: Iterable[Path], namespaces: Iterable[str] = ()) -> ManifestCollection:
    """Read every manifest file; with `namespaces`, keep only objects in them, those Namespace objects,
    and cluster-scoped objects (cluster roles and their bindings)."""
    wanted = set(namespaces)
    out = ManifestCollection()
    for path in manifest_files(paths):
        label = str(path)
        started = utcnow()
        try:
            docs = list(yaml.load_all(path.read_text("utf-8"), Loader=LOADER))
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            reason = " ".join(str(exc).split())
            out.records.append(EvidenceRecord(SOURCE, FILE_SERVICE, "read", None, {"path": label}, started,
                                              Outcome.ERROR, error_code=type(exc).__name__,
                                              error_message=reason))
            out.warnings.append(f"{label}: cannot be read: {reason}")
            continue
        kept = 0
        for index, position, obj in _objects(docs, label, out.warnings):
            namespace = namespace_of(obj)
            meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
            if wanted and (namespace or (meta.get("name") if obj["kind"] == "Namespace" else None)) not in (
                    None, *wanted):
                continue
            params = {"path": label, "document": index + 1, "name": str(meta.get("name", ""))}
            if position is not None:
                params["item"] = position + 1
            out.records.append(EvidenceRecord(SOURCE, obj["kind"], "manifest", namespace, params, started,
                                              Outcome.OK, response=jsonable(redact(obj))))
            kept += 1
        out.records.append(EvidenceRecord(SOURCE, FILE_SERVICE, "read", None, {"path": label}, started,
                                          Outcome.OK, response={"documents": len(docs), "objects": kept}))
    return out
