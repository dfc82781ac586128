"""Workload checks: how each pod's containers run (privileges, user, filesystem, capabilities, host
access, resource limits, images, credentials, service-account tokens).

A finding names the workload (``k8s:NAMESPACE/KIND/NAME``); its reason names each failing container
and the field path that failed, e.g. ``spec.template.spec.containers[0].securityContext.privileged``.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterator
from typing import Any

from compliance.collect.kubernetes.redact import secret_like
from compliance.findings import Severity
from controls.kubernetes.inventory import KubernetesInventory
from controls.kubernetes.pods import Container, Workload, listing_errors, why_missing, workloads
from controls.kubernetes.verdicts import judge_containers, judge_workloads
from controls.registry import Verdict, check, errored, failed, passed

DEFAULT_APPROVED_REGISTRIES = ("*.dkr.ecr.*.amazonaws.com", "*.dkr.ecr.*.amazonaws.com.cn")
"""Private ECR registries of any account and region, unless --approved-registry says otherwise."""
ALLOWED_ADDED_CAPABILITIES = frozenset({"NET_BIND_SERVICE"})
"""The one capability the Pod Security 'restricted' profile lets a container add back."""
RUNTIME_CONTAINERS = ("initContainers", "containers")


@check("kubernetes.workload.privileged", severity=Severity.CRITICAL, resource_type="KubernetesWorkload",
       title="No container runs privileged",
       rationale="""A privileged container has every capability and the host's devices: escaping it gives
       the node, and from the node every pod and secret on it. Nothing in a cardholder-data environment
       needs that.""",
       remediation="""Remove `securityContext.privileged: true` from the container; grant the one capability
       it needs instead, and enforce the Pod Security 'restricted' profile on the namespace.""")
def privileged(inv: KubernetesInventory) -> Iterator[Verdict]:
    def problem(_: Workload, c: Container) -> str | None:
        if c.security.get("privileged") is True:
            return f"{c.path}.securityContext.privileged is true"
        return None

    yield from judge_containers(inv, problem, "no container is privileged")


@check("kubernetes.workload.privilege_escalation", severity=Severity.HIGH,
       resource_type="KubernetesWorkload",
       title="Containers forbid privilege escalation",
       rationale="""Unless `allowPrivilegeEscalation` is false, a process can gain more privileges than its
       parent (setuid binaries, file capabilities), which turns a foothold into root in the container.""",
       remediation="""Set `securityContext.allowPrivilegeEscalation: false` on every container.""")
def privilege_escalation(inv: KubernetesInventory) -> Iterator[Verdict]:
    def problem(_: Workload, c: Container) -> str | None:
        value = c.security.get("allowPrivilegeEscalation")
        if c.security.get("privileged") is True:
            return f"{c.path}.securityContext.privileged is true, which always allows escalation"
        if value is False:
            return None
        if value is None:
            return f"{c.path}.securityContext.allowPrivilegeEscalation is not set (Kubernetes allows it)"
        return f"{c.path}.securityContext.allowPrivilegeEscalation is {str(value).lower()}"

    yield from judge_containers(inv, problem, "every container sets allowPrivilegeEscalation: false")


@check("kubernetes.workload.run_as_non_root", severity=Severity.HIGH, resource_type="KubernetesWorkload",
       title="Containers run as a non-root user",
       rationale="""Root in a container is root on the node's kernel: a kernel or runtime flaw is then one
       step from the host. Requiring a non-root user limits what a compromised process can do.""",
       remediation="""Set `securityContext.runAsNonRoot: true` (pod or container) and a non-zero
       `runAsUser`, and build the image with a `USER` that is not root.""")
def run_as_non_root(inv: KubernetesInventory) -> Iterator[Verdict]:
    def problem(w: Workload, c: Container) -> str | None:
        pod = w.pod_security
        user = c.security.get("runAsUser", pod.get("runAsUser"))
        user_path = (f"{c.path}.securityContext.runAsUser" if "runAsUser" in c.security
                     else f"{w.path}.securityContext.runAsUser")
        non_root = c.security.get("runAsNonRoot", pod.get("runAsNonRoot"))
        if user == 0:
            return f"{user_path} is 0 (root)"
        if non_root is False:
            where = c.path if "runAsNonRoot" in c.security else w.path
            return f"{where}.securityContext.runAsNonRoot is false"
        if non_root is True or (isinstance(user, int) and user > 0):
            return None
        return (f"may run as root: neither {c.path}.securityContext nor {w.path}.securityContext sets "
                "runAsNonRoot: true or a non-zero runAsUser")

    yield from judge_containers(inv, problem, "every container runs as a non-root user",
                                lists=RUNTIME_CONTAINERS)


@check("kubernetes.workload.read_only_root_fs", severity=Severity.MEDIUM,
       resource_type="KubernetesWorkload",
       title="Containers have a read-only root filesystem",
       rationale="""A writable root filesystem lets an intruder drop tools or change the application's code
       in place; a read-only one keeps the running container identical to the reviewed image.""",
       remediation="""Set `securityContext.readOnlyRootFilesystem: true` and mount an `emptyDir` volume
       where the application must write (e.g. /tmp).""")
def read_only_root_fs(inv: KubernetesInventory) -> Iterator[Verdict]:
    def problem(_: Workload, c: Container) -> str | None:
        if c.security.get("readOnlyRootFilesystem") is True:
            return None
        return f"{c.path}.securityContext.readOnlyRootFilesystem is not true"

    yield from judge_containers(inv, problem, "every container's root filesystem is read-only",
                                lists=RUNTIME_CONTAINERS)


def _caps(security: dict[str, Any], key: str) -> list[str]:
    caps = security.get("capabilities")
    values = caps.get(key) if isinstance(caps, dict) else None
    return [str(v).upper().removeprefix("CAP_") for v in values or []]


@check("kubernetes.workload.capabilities", severity=Severity.MEDIUM, resource_type="KubernetesWorkload",
       title="Containers drop ALL capabilities and add none beyond NET_BIND_SERVICE",
       rationale="""Linux capabilities split root's power into pieces; the default set still includes
       several an application never needs (raw sockets, changing file ownership). Dropping them all
       removes that attack surface.""",
       remediation="""Set `securityContext.capabilities.drop: ["ALL"]` on every container and remove entries
       from `capabilities.add` (NET_BIND_SERVICE is the only one the restricted profile allows).""")
def capabilities(inv: KubernetesInventory) -> Iterator[Verdict]:
    def problem(_: Workload, c: Container) -> str | None:
        issues = []
        added = [cap for cap in _caps(c.security, "add") if cap not in ALLOWED_ADDED_CAPABILITIES]
        if added:
            issues.append(f"{c.path}.securityContext.capabilities.add adds {', '.join(added)}")
        if "ALL" not in _caps(c.security, "drop"):
            issues.append(f"{c.path}.securityContext.capabilities.drop does not include ALL")
        return "; ".join(issues) or None

    yield from judge_containers(inv, problem, "every container drops ALL capabilities and adds none",
                                lists=RUNTIME_CONTAINERS)


@check("kubernetes.workload.host_namespaces", severity=Severity.HIGH, resource_type="KubernetesWorkload",
       title="Pods do not share the node's network, PID or IPC namespace",
       rationale="""A pod in the host's network namespace sees every connection on the node and bypasses
       NetworkPolicy; the host PID or IPC namespace exposes other processes' memory and signals. Each
       breaks the isolation that segmentation relies on.""",
       remediation="""Remove `hostNetwork`, `hostPID` and `hostIPC` from the pod spec (or set them false).""")
def host_namespaces(inv: KubernetesInventory) -> Iterator[Verdict]:
    def problems(w: Workload) -> list[str]:
        return [f"{w.path}.{key} is true" for key in ("hostNetwork", "hostPID", "hostIPC")
                if w.spec.get(key) is True]

    yield from judge_workloads(inv, problems, "the pod shares no host namespace")


@check("kubernetes.workload.host_path", severity=Severity.HIGH, resource_type="KubernetesWorkload",
       title="Pods mount no hostPath volume",
       rationale="""A hostPath volume exposes the node's filesystem to the pod: the container runtime socket,
       kubelet credentials or other pods' data are one mount away.""",
       remediation="""Replace the hostPath volume with a persistent volume claim, a projected volume or an
       emptyDir; if a node agent truly needs it, run it outside the cardholder-data environment.""")
def host_path(inv: KubernetesInventory) -> Iterator[Verdict]:
    def problems(w: Workload) -> list[str]:
        out = []
        for index, volume in enumerate(w.spec.get("volumes") or []):
            if isinstance(volume, dict) and isinstance(volume.get("hostPath"), dict):
                out.append(f"{w.path}.volumes[{index}].hostPath mounts {volume['hostPath'].get('path', '?')} "
                           f"(volume {volume.get('name', '?')})")
        return out

    yield from judge_workloads(inv, problems, "the pod mounts no hostPath volume")


@check("kubernetes.workload.resource_limits", severity=Severity.MEDIUM, resource_type="KubernetesWorkload",
       title="Containers declare CPU and memory limits",
       rationale="""Without limits one container can starve the node, taking the payment services beside it
       down with it; limits keep each workload within the capacity planned for it.""",
       remediation="""Set `resources.limits.cpu` and `resources.limits.memory` on every container (or give the
       namespace a LimitRange that sets defaults).""")
def resource_limits(inv: KubernetesInventory) -> Iterator[Verdict]:
    def problem(_: Workload, c: Container) -> str | None:
        resources = c.data.get("resources") if isinstance(c.data.get("resources"), dict) else {}
        limits = resources.get("limits") if isinstance(resources.get("limits"), dict) else {}
        missing = [key for key in ("cpu", "memory") if not limits.get(key)]
        if missing:
            return f"{c.path}.resources.limits has no {' or '.join(missing)} limit"
        return None

    yield from judge_containers(inv, problem, "every container declares CPU and memory limits",
                                lists=RUNTIME_CONTAINERS)


def image_parts(image: str) -> tuple[str, str, str | None, str | None]:
    """(registry, repository, tag, digest) of an image reference, with Docker Hub's defaults."""
    rest, _, digest = image.partition("@")
    first, _, remainder = rest.partition("/")
    if remainder and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = "docker.io", rest
    name, _, tag = path.rpartition(":") if ":" in path.rsplit("/", 1)[-1] else (path, "", "")
    return registry, name, tag or None, digest or None


@check("kubernetes.workload.image_pinned", severity=Severity.MEDIUM, resource_type="KubernetesWorkload",
       title="Images are pinned by digest, never `latest`",
       rationale="""A tag can be moved to another image at any time; only a digest names exactly the image
       that was scanned and approved, so what runs is what was reviewed.""",
       remediation="""Refer to each image as `registry/repository@sha256:<digest>` (CI can resolve the tag to
       its digest when it renders the manifests).""")
def image_pinned(inv: KubernetesInventory) -> Iterator[Verdict]:
    def problem(_: Workload, c: Container) -> str | None:
        if not c.image:
            return f"{c.path}.image is empty"
        _, _, tag, digest = image_parts(c.image)
        if digest and digest.startswith("sha256:"):
            return None
        if tag in (None, "latest"):
            return f"{c.path}.image {c.image} uses the latest tag and no digest"
        return f"{c.path}.image {c.image} is pinned by tag only, not by digest"

    yield from judge_containers(inv, problem, "every image is pinned by sha256 digest")


def approved_registries(inv: KubernetesInventory) -> tuple[str, ...]:
    chosen = inv.options.get("approved_registries")
    return tuple(chosen) if chosen else DEFAULT_APPROVED_REGISTRIES


@check("kubernetes.workload.approved_registry", severity=Severity.MEDIUM,
       resource_type="KubernetesWorkload",
       title="Images come only from approved registries",
       rationale="""Images from an approved registry have passed the organisation's scanning and signing;
       an image pulled from anywhere else has not, and may change without notice.""",
       remediation="""Copy the image into an approved registry (by default a private ECR repository, which
       scans it on push) and refer to it there; pass --approved-registry for other registries you trust.""")
def approved_registry(inv: KubernetesInventory) -> Iterator[Verdict]:
    patterns = approved_registries(inv)

    def problem(_: Workload, c: Container) -> str | None:
        registry = image_parts(c.image)[0]
        if any(fnmatch.fnmatchcase(registry, pattern) for pattern in patterns):
            return None
        return f"{c.path}.image {c.image or '(empty)'} comes from {registry}, not an approved registry"

    yield from judge_containers(inv, problem,
                                f"every image comes from an approved registry ({', '.join(patterns)})")


@check("kubernetes.workload.secret_env_literal", severity=Severity.HIGH, resource_type="KubernetesWorkload",
       title="No credential is written as a literal env value",
       rationale="""A password or key written into the manifest is in version control, in the API server's
       object history and visible to anyone who may read the workload; it must come from a Secret (or an
       external secret store) instead.""",
       remediation="""Move the value into a Secret and refer to it with `valueFrom.secretKeyRef` (or mount
       it), then rotate the credential, since it has been exposed.""")
def secret_env_literal(inv: KubernetesInventory) -> Iterator[Verdict]:
    def problem(_: Workload, c: Container) -> str | None:
        found = []
        for index, entry in enumerate(c.data.get("env") or []):
            if isinstance(entry, dict) and isinstance(entry.get("value"), str) and secret_like(
                    str(entry.get("name", "")), entry["value"]):
                found.append(f"{c.path}.env[{index}].value ({entry.get('name', '?')}) holds a literal "
                             "credential")
        return "; ".join(found) or None

    yield from judge_containers(inv, problem, "no container has a literal credential in its env")


def _token_decision(inv: KubernetesInventory, w: Workload) -> Verdict:
    uid, rec = w.uid, w.record
    own = w.spec.get("automountServiceAccountToken")
    path = f"{w.path}.automountServiceAccountToken"
    if own is False:
        return passed(uid, f"{path} is false", rec)
    if own is True:
        return passed(uid, f"{path} is true: the token is mounted on purpose", rec)
    account = str(w.spec.get("serviceAccountName") or w.spec.get("serviceAccount") or "default")
    accounts, failures = inv.objects("ServiceAccount")
    match = next((a for a in accounts if a.name == account and a.namespace == w.obj.namespace), None)
    if match is not None and match.get("automountServiceAccountToken") is False:
        return passed(uid, f"{path} is unset and service account {account} sets "
                      "automountServiceAccountToken: false", rec, match.record)
    relevant = [f for f in failures if f.scope in (None, w.obj.namespace) or f.service == "manifests"]
    if match is None and relevant:
        return errored(uid, f"{path} is unset and service account {account} could not be read: "
                       f"{why_missing(relevant[0])}", rec, *relevant)
    where = "sets no automountServiceAccountToken" if match is not None else (
        "is not among the collected objects")
    return failed(uid, f"the API token is mounted by default: {path} is unset and service account "
                  f"{account} {where}", rec, match.record if match else None)


@check("kubernetes.workload.sa_token_automount", severity=Severity.MEDIUM,
       resource_type="KubernetesWorkload",
       title="Service-account tokens are mounted only where the workload asks for one",
       rationale="""Kubernetes mounts an API token into every pod unless told not to; most applications never
       call the API, so the token only helps whoever breaks into the container.""",
       remediation="""Set `automountServiceAccountToken: false` on the ServiceAccount (or the pod spec); set
       it to true on the pod spec only for workloads that call the Kubernetes API.""")
def sa_token_automount(inv: KubernetesInventory) -> Iterator[Verdict]:
    found, failures = workloads(inv)
    yield from listing_errors(failures)
    for workload in found:
        if not workload.spec:
            yield errored(workload.uid, f"{workload.obj.kind} {workload.obj.name} has no pod spec at "
                          f"{workload.path}", workload.record)
        else:
            yield _token_decision(inv, workload)
