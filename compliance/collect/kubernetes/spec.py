"""What to collect from a cluster, as data: one row per kind, listed once per scan.

Each kind names the official client's API class and the snake-case stem of its list methods
(``list_<stem>_for_all_namespaces`` / ``list_namespaced_<stem>`` / ``list_<stem>``), so a new kind
costs one line here. Secrets and ConfigMaps are deliberately absent: the checks need neither, and
the evidence must not carry their contents.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    kind: str
    api: str
    """The client's API class, e.g. ``AppsV1Api``."""
    stem: str
    namespaced: bool = True

    def list_method(self, namespace: str | None) -> tuple[str, dict[str, str]]:
        """The client method that lists this kind, and its namespace argument."""
        if not self.namespaced:
            return f"list_{self.stem}", {}
        if namespace is None:
            return f"list_{self.stem}_for_all_namespaces", {}
        return f"list_namespaced_{self.stem}", {"namespace": namespace}


KINDS: tuple[Kind, ...] = (
    Kind("Namespace", "CoreV1Api", "namespace", namespaced=False),
    Kind("Pod", "CoreV1Api", "pod"),
    Kind("ServiceAccount", "CoreV1Api", "service_account"),
    Kind("Deployment", "AppsV1Api", "deployment"),
    Kind("StatefulSet", "AppsV1Api", "stateful_set"),
    Kind("DaemonSet", "AppsV1Api", "daemon_set"),
    Kind("ReplicaSet", "AppsV1Api", "replica_set"),
    Kind("Job", "BatchV1Api", "job"),
    Kind("CronJob", "BatchV1Api", "cron_job"),
    Kind("NetworkPolicy", "NetworkingV1Api", "network_policy"),
    Kind("Role", "RbacAuthorizationV1Api", "role"),
    Kind("RoleBinding", "RbacAuthorizationV1Api", "role_binding"),
    Kind("ClusterRole", "RbacAuthorizationV1Api", "cluster_role", namespaced=False),
    Kind("ClusterRoleBinding", "RbacAuthorizationV1Api", "cluster_role_binding", namespaced=False),
)

KIND_NAMES: tuple[str, ...] = tuple(k.kind for k in KINDS)
