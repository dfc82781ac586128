"""`comply scan kubernetes`: a live cluster (kubeconfig or in-cluster) or rendered manifests offline.

The shared `--timeout` sets the seconds each API request may take (the target's `timeout`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from compliance.cli.scan import scan_command

if TYPE_CHECKING:
    from compliance.targets import Target


@scan_command("kubernetes")
def scan_kubernetes_command(
    paths: list[Path] | None = typer.Argument(
        None, help="Manifest files or folders, as with --manifests (so pre-commit can pass changed files).",
        show_default=False,
    ),
    kubeconfig: Path | None = typer.Option(
        None, "--kubeconfig", help="Kubeconfig file (default: KUBECONFIG, ~/.kube/config, or in-cluster)."
    ),
    context: str | None = typer.Option(None, "--context", help="Kubeconfig context (default: current)."),
    namespace: list[str] | None = typer.Option(
        None, "--namespace", help="Only these namespaces (repeatable; default: every namespace)."
    ),
    manifests: list[Path] | None = typer.Option(
        None, "--manifests",
        help="Scan rendered manifests offline: YAML/JSON files or folders (repeatable; e.g. helm template).",
    ),
    cde_label: str = typer.Option(
        "pci-scope=cde", "--cde-label",
        help="KEY=VALUE label of the namespaces in the cardholder-data environment.",
    ),
    approved_registry: list[str] | None = typer.Option(
        None, "--approved-registry",
        help="Registry host pattern images may come from "
        "(repeatable; default: private ECR, *.dkr.ecr.*.amazonaws.com).",
    ),
) -> Target:
    """Scan a Kubernetes cluster, or its rendered manifests, and map the results to PCI DSS and ISO 27001."""
    from compliance.targets.kubernetes import KubernetesTarget, parse_label

    parse_label(cde_label)
    return KubernetesTarget(
        kubeconfig=kubeconfig, context=context, namespaces=list(namespace or []),
        manifests=[*(manifests or []), *(paths or [])], cde_label=cde_label,
        approved_registries=list(approved_registry or []),
    )
