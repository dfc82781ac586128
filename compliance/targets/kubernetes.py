"""The Kubernetes target: a live cluster through the official client, or rendered manifests offline.

Both sources produce the same evidence shape and the same `KubernetesInventory`, so the same checks
run over either. Unlike AWS, `connect` only validates the input (kubeconfig, context, manifest paths):
an API server that is down, a token that has expired or a list RBAC refuses is something the scan
reports, as ERROR findings with the server's reason, not a reason to abort before collecting.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from compliance.errors import UsageError
from compliance.targets import Collected, Progress

log = logging.getLogger("comply.kubernetes")
DEFAULT_CDE_LABEL = "pci-scope=cde"


def wallet_manifests() -> Path:
    """The wallet's own hardened manifests, shipped inside the wallet package."""
    import wallet

    return Path(wallet.__file__).resolve().parent / "kubernetes"


def parse_label(text: str) -> tuple[str, str]:
    """`KEY=VALUE` as given to --cde-label; anything else is bad input."""
    key, sep, value = text.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise UsageError(f"--cde-label {text!r}: expected KEY=VALUE, e.g. {DEFAULT_CDE_LABEL}")
    return key.strip(), value.strip()


@dataclass
class KubernetesTarget:
    name: ClassVar[str] = "kubernetes"

    kubeconfig: Path | None = None
    context: str | None = None
    namespaces: list[str] = field(default_factory=list)
    manifests: list[Path] = field(default_factory=list)
    cde_label: str = DEFAULT_CDE_LABEL
    approved_registries: list[str] = field(default_factory=list)
    workers: int = 8
    timeout: float = 30.0
    page_size: int = 250
    warnings: list[str] = field(default_factory=list, init=False)
    _cluster: Any = field(default=None, init=False, repr=False)

    def connect(self) -> None:
        from compliance.collect.kubernetes.manifests import manifest_files

        parse_label(self.cde_label)
        if self.manifests:
            if self.kubeconfig is not None or self.context is not None:
                raise UsageError("--manifests scans files offline: it cannot be combined with --kubeconfig "
                                 "or --context")
            if not manifest_files(self.manifests):
                raise UsageError("--manifests: no .yaml, .yml or .json files found in "
                                 + ", ".join(map(str, self.manifests)))
            return
        from compliance.collect.kubernetes.live import connect

        self._cluster = connect(self.kubeconfig, self.context, self.timeout)

    def _options(self) -> dict[str, Any]:
        return {"kubernetes_cde_label": self.cde_label,
                "kubernetes_approved_registries": list(self.approved_registries)}

    def collect(self, progress: Progress | None = None) -> Collected:
        if self.manifests:
            from compliance.collect.kubernetes.manifests import read_manifests

            read = read_manifests(self.manifests, self.namespaces)
            for warning in read.warnings:
                log.warning("%s", warning)
            self.warnings.extend(read.warnings)
            if progress is not None:
                progress(1, 1)
            scope = {"source": "manifests", "paths": [str(p) for p in self.manifests],
                     "namespaces": list(self.namespaces), "warnings": list(read.warnings)}
            return Collected(scope, {"source": "manifests"}, read.records, self._options())
        from compliance.collect.kubernetes.live import collect_cluster

        if self._cluster is None:
            self.connect()
        cluster = self._cluster
        records = collect_cluster(cluster, self.namespaces, workers=self.workers, page_size=self.page_size,
                                  timeout=self.timeout, progress=progress)
        scope = {"source": "cluster", "server": cluster.server, "context": cluster.context,
                 "namespaces": list(self.namespaces)}
        return Collected(scope, dict(cluster.identity), records, self._options())

    def inventory(self, collected: Collected) -> Any:
        from controls.kubernetes.inventory import KubernetesInventory

        label = collected.options.get("kubernetes_cde_label") or DEFAULT_CDE_LABEL
        return KubernetesInventory(collected.evidence, options={
            "cde_label": parse_label(label),
            "approved_registries": collected.options.get("kubernetes_approved_registries") or [],
        })
