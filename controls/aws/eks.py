"""EKS checks: the control plane of the cluster that runs the wallet encrypts Secrets with KMS, keeps
its API endpoint off the open internet, and sends its audit log to CloudWatch."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import listing_errors, unusable
from controls.registry import Verdict, check, errored, failed, passed

OPEN = ("0.0.0.0/0", "::/0")
Judge = Callable[[str, str, dict[str, Any], tuple[Any, ...], str], Verdict]


def _clusters(inv: AwsInventory, judge: Judge) -> Iterator[Verdict]:
    """Each cluster's describe_cluster answer handed to `judge`; ERROR when it is missing."""
    clusters, failures = inv.listing("eks", "list_clusters", "clusters")
    yield from listing_errors(inv, failures, "eks", "cluster/*")
    for item in clusters:
        name = _name(item)
        arn = inv.arn("eks", item.region, f"cluster/{name}")
        described = inv.call("eks", "describe_cluster", item.region, name=name)
        why = unusable(described, "describe_cluster")
        if described is None or why:
            yield errored(arn, f"EKS cluster {name}: configuration unknown: {why}", item.record, described,
                          region=item.region)
            continue
        cluster = (described.response or {}).get("cluster") or {}
        yield judge(cluster.get("arn") or arn, name, cluster, (item.record, described), item.region)


def _name(item: Item) -> str:
    if isinstance(item.data, str):
        return item.data
    return str(item.get("item") or item.get("name", "?"))


@check("aws.eks.secrets_encryption", severity=Severity.HIGH, resource_type="AwsEksCluster",
       title="EKS clusters encrypt Kubernetes Secrets with a KMS key",
       rationale="""Secrets hold the database passwords and keys of the payment services. Envelope
       encryption with a customer managed KMS key keeps them unreadable in etcd and its backups, with
       every use of the key logged.""",
       remediation="""Run `aws eks associate-encryption-config --cluster-name NAME --encryption-config
       resources=secrets,provider={keyArn=KEY_ARN}` (it cannot be removed once set).""")
def secrets_encryption(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(arn: str, name: str, cluster: dict[str, Any], evidence: tuple[Any, ...],
              region: str) -> Verdict:
        for config in cluster.get("encryptionConfig") or []:
            key = (config.get("provider") or {}).get("keyArn")
            if "secrets" in (config.get("resources") or []) and key:
                return passed(arn, f"EKS cluster {name} encrypts Secrets with {key}", *evidence,
                              region=region)
        return failed(arn, f"EKS cluster {name} has no KMS envelope encryption for Secrets", *evidence,
                      region=region)

    yield from _clusters(inv, judge)


@check("aws.eks.endpoint_restricted", severity=Severity.HIGH, resource_type="AwsEksCluster",
       title="EKS API endpoints are private or limited to known addresses",
       rationale="""The Kubernetes API is the administrative interface to every workload in the cluster;
       reachable from the whole internet it is one stolen credential or API server flaw away from
       compromise.""",
       remediation="""Run `aws eks update-cluster-config --name NAME --resources-vpc-config
       endpointPrivateAccess=true,endpointPublicAccess=false` (or keep public access with
       `publicAccessCidrs` set to the administrators' ranges).""")
def endpoint_restricted(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(arn: str, name: str, cluster: dict[str, Any], evidence: tuple[Any, ...],
              region: str) -> Verdict:
        vpc = cluster.get("resourcesVpcConfig") or {}
        if vpc.get("endpointPublicAccess") is False:
            return passed(arn, f"EKS cluster {name}'s API endpoint is private only", *evidence,
                          region=region)
        cidrs = vpc.get("publicAccessCidrs") or ["0.0.0.0/0"]
        opened = [c for c in cidrs if c in OPEN]
        if opened:
            return failed(arn, f"EKS cluster {name}'s API endpoint is public and open to "
                          f"{', '.join(opened)}", *evidence, region=region)
        return passed(arn, f"EKS cluster {name}'s public API endpoint admits only {', '.join(cidrs)}",
                      *evidence, region=region)

    yield from _clusters(inv, judge)


@check("aws.eks.audit_logging", severity=Severity.MEDIUM, resource_type="AwsEksCluster",
       title="EKS control planes send their audit log to CloudWatch",
       rationale="""The Kubernetes audit log records who read a Secret, exec'd into a pod or changed a
       role binding: the administrative actions an investigation of the cluster needs.""",
       remediation="""Run `aws eks update-cluster-config --name NAME --logging
       '{"clusterLogging":[{"types":["api","audit","authenticator"],"enabled":true}]}'`.""")
def audit_logging(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(arn: str, name: str, cluster: dict[str, Any], evidence: tuple[Any, ...],
              region: str) -> Verdict:
        enabled = {t for entry in (cluster.get("logging") or {}).get("clusterLogging") or []
                   if entry.get("enabled") is True for t in entry.get("types") or []}
        if "audit" in enabled:
            return passed(arn, f"EKS cluster {name} logs {', '.join(sorted(enabled))} to CloudWatch",
                          *evidence, region=region)
        return failed(arn, f"EKS cluster {name} does not send its audit log to CloudWatch (enabled: "
                      f"{', '.join(sorted(enabled)) or 'none'})", *evidence, region=region)

    yield from _clusters(inv, judge)
