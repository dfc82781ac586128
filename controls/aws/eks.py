"""EKS checks: the control plane of the cluster that runs the wallet encrypts Secrets with KMS, keeps
its API endpoint off the open internet, sends its audit log to CloudWatch and runs a Kubernetes version
AWS still patches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.support_calendar import EKS_KUBERNETES, minor_version
from controls.aws.verdicts import listing_errors, unusable, when
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


def support_verdict(version: str, today: dt.date) -> tuple[bool | None, str]:
    """Whether AWS still patches Kubernetes `version` on `today` (None: the version cannot be read)."""
    minor = minor_version(version)
    if minor is None:
        return None, f"runs Kubernetes version {version!r}, which is not a version number"
    known = sorted(EKS_KUBERNETES, key=lambda v: minor_version(v) or (0, 0))
    label = f"{minor[0]}.{minor[1]}"
    support = EKS_KUBERNETES.get(label)
    if support is None:
        if minor > (minor_version(known[-1]) or (0, 0)):
            return True, f"runs Kubernetes {label}, newer than the support calendar this release knows"
        return False, f"runs Kubernetes {label}, older than {known[0]}: out of AWS support"
    if today > support.extended_ends:
        return False, (f"runs Kubernetes {label}, whose extended support ended on {support.extended_ends}: "
                       "AWS no longer patches it")
    if today > support.standard_ends:
        return True, (f"runs Kubernetes {label} in extended support (patched until {support.extended_ends}; "
                      f"standard support ended on {support.standard_ends}): plan the upgrade")
    return True, f"runs Kubernetes {label}, in standard support until {support.standard_ends}"


@check("aws.eks.supported_version", severity=Severity.HIGH, resource_type="AwsEksCluster",
       title="EKS clusters run a Kubernetes version AWS still patches",
       rationale="""Once a Kubernetes version leaves extended support, AWS ships no more security fixes for
       its control plane and the cluster is upgraded on AWS's schedule rather than the team's. Extended
       support still receives patches, so it passes with a reminder to plan the upgrade.""",
       remediation="""Upgrade one minor version at a time with `aws eks update-cluster-version --name NAME
       --kubernetes-version X.Y` after checking deprecated APIs, then upgrade the node groups and add-ons.""")
def supported_version(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(arn: str, name: str, cluster: dict[str, Any], evidence: tuple[Any, ...],
              region: str) -> Verdict:
        version, collected = cluster.get("version"), when(evidence[-1].collected_at)
        if not version or collected is None:
            missing = "its Kubernetes version" if not version else "the collection time"
            return errored(arn, f"EKS cluster {name}: {missing} is not stated", *evidence, region=region)
        state, reason = support_verdict(str(version), collected.date())
        make = passed if state is True else failed if state is False else errored
        return make(arn, f"EKS cluster {name} {reason}", *evidence, region=region)

    yield from _clusters(inv, judge)
