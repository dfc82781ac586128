"""The Kubernetes objects that run a scan as shards, on the engine the user already operates.

One plan Job records the shards, one Indexed Job runs them (each pod's JOB_COMPLETION_INDEX is its
shard; a usage error, exit 2, is not retried; anything else is, per index), a finish Job closes a scan
whose last shard failed for good, and a CronJob plans the nightly scan. The pods are hardened as
`comply scan kubernetes` expects: non-root, read-only root filesystem, no privilege escalation, every
capability dropped, limits set, image pinned by digest, no service-account token mounted (AWS
credentials come from IAM roles for service accounts, which projects its own token).

`deploy/kubernetes/` holds these objects with placeholder values (written by `python -m
compliance.kubernetes_jobs deploy/kubernetes`; a test keeps the two equal).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

NAMESPACE = "comply"
SERVICE_ACCOUNT = "comply-scanner"
STORE_URL_SOURCE = "comply-store"  # the Secret holding the store URL under the key "url"
IMAGE = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/wallet-comply@sha256:" + "0" * 64
ROLE_ARN = "arn:aws:iam::123456789012:role/ComplyOrganizationScanner"
SCAN_ID = "SCAN_ID"
# a path inside the pod, where an emptyDir of its own is mounted
SCRATCH = "/tmp"  # noqa: S108 # nosec B108
LABELS = {"app.kubernetes.io/name": "comply", "app.kubernetes.io/component": "scanner"}


def _container(name: str, args: list[str], image: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "args": args,
        "env": [
            {"name": "COMPLY_DB", "valueFrom": {"secretKeyRef": {"name": STORE_URL_SOURCE, "key": "url"}}},
            {"name": "HOME", "value": SCRATCH},
        ],
        "resources": {"requests": {"cpu": "250m", "memory": "256Mi"},
                      "limits": {"cpu": "1", "memory": "768Mi"}},
        "securityContext": {
            "allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "privileged": False,
            "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": SCRATCH}, {"name": "out", "mountPath": "/out"}],
    }


def _pod(name: str, args: list[str], image: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": dict(LABELS)},
        "spec": {
            "serviceAccountName": SERVICE_ACCOUNT,
            "automountServiceAccountToken": False,
            "restartPolicy": "Never",
            "securityContext": {"runAsNonRoot": True, "runAsUser": 10001, "runAsGroup": 10001,
                                "fsGroup": 10001, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [_container(name, args, image)],
            "volumes": [{"name": "tmp", "emptyDir": {}}, {"name": "out", "emptyDir": {}}],
        },
    }


def _metadata(name: str) -> dict[str, Any]:
    return {"name": name, "namespace": NAMESPACE, "labels": dict(LABELS)}


def indexed_job(scan_id: str, completions: int, *, image: str = IMAGE,
                parallelism: int = 10) -> dict[str, Any]:
    """The shards of one planned scan: index I runs `comply shard run SCAN --index I`."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata("comply-shards" if scan_id == SCAN_ID else f"comply-shards-{scan_id}"),
        "spec": {
            "completionMode": "Indexed",
            "completions": completions,
            "parallelism": min(parallelism, completions),
            "backoffLimitPerIndex": 2,
            "maxFailedIndexes": completions,
            "podFailurePolicy": {"rules": [{
                "action": "FailIndex",
                "onExitCodes": {"containerName": "shard", "operator": "In", "values": [2]},
            }]},
            "ttlSecondsAfterFinished": 86400,
            "template": _pod("shard", ["shard", "run", scan_id], image),
        },
    }


def plan_job(*, image: str = IMAGE) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata("comply-plan"),
        "spec": {"backoffLimit": 1, "ttlSecondsAfterFinished": 86400,
                 "template": _pod("plan", ["scan", "aws", "--organization", "--plan", "--out", "/out"],
                                  image)},
    }


def finish_job(scan_id: str = SCAN_ID, *, image: str = IMAGE) -> dict[str, Any]:
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": _metadata("comply-finish"),
        "spec": {"backoffLimit": 2, "ttlSecondsAfterFinished": 86400,
                 "template": _pod("finish", ["scan", "finish", scan_id], image)},
    }


def cron_job(*, image: str = IMAGE) -> dict[str, Any]:
    """Nightly: plan the organisation's scan; a controller or the next step applies the Indexed Job."""
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": _metadata("comply-nightly-plan"),
        "spec": {"schedule": "17 2 * * *", "concurrencyPolicy": "Forbid",
                 "successfulJobsHistoryLimit": 3, "failedJobsHistoryLimit": 3,
                 "jobTemplate": {"spec": plan_job(image=image)["spec"]}},
    }


def service_account(role_arn: str = ROLE_ARN) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {**_metadata(SERVICE_ACCOUNT),
                     "annotations": {"eks.amazonaws.com/role-arn": role_arn}},
        "automountServiceAccountToken": False,
    }


def shipped() -> dict[str, list[dict[str, Any]]]:
    """The files of deploy/kubernetes/, by name."""
    return {
        "serviceaccount.yaml": [service_account()],
        "plan-job.yaml": [plan_job()],
        "shards-job.yaml": [indexed_job(SCAN_ID, 1)],
        "finish-job.yaml": [finish_job()],
        "cronjob.yaml": [cron_job()],
    }


def dump(objects: list[dict[str, Any]]) -> str:
    return yaml.safe_dump_all(objects, sort_keys=False)


def write_indexed_job(path: Path, scan_id: str, completions: int, *, image: str = IMAGE) -> None:
    path.write_text(dump([indexed_job(scan_id, completions, image=image)]), "utf-8")


if __name__ == "__main__":
    folder = Path(sys.argv[1])
    folder.mkdir(parents=True, exist_ok=True)
    for name, objects in shipped().items():
        (folder / name).write_text(dump(objects), "utf-8")
