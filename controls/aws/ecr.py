"""ECR checks: images are scanned when pushed, and the newest image of each repository is clean."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

from compliance.collect.record import EvidenceRecord, Outcome
from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import listing_errors, unusable
from controls.registry import Verdict, check, errored, failed, passed

SEVERITY_ORDER = ("UNDEFINED", "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
"""ECR's finding severities, lowest first (Inspector's UNTRIAGED ranks with UNDEFINED)."""
SCANNING_FREQUENCIES = ("SCAN_ON_PUSH", "CONTINUOUS_SCAN")
FINISHED_SCANS = ("COMPLETE", "ACTIVE")


def _repositories(inv: AwsInventory) -> tuple[list[Item], Iterator[Verdict]]:
    repos, failures = inv.listing("ecr", "describe_repositories", "repositories")
    return repos, listing_errors(inv, failures, "ecr", "repository/*")


def filter_matches(pattern: str, name: str) -> bool:
    """ECR repository filters: `*` stands for any run of characters; a filter without one matches any
    repository name that contains it."""
    if "*" not in pattern:
        return pattern in name
    return re.fullmatch(".*".join(map(re.escape, pattern.split("*"))), name) is not None


def covering_rule(config: dict[str, Any], name: str) -> dict[str, Any] | None:
    """The registry scanning rule that scans repository `name` automatically, if any."""
    for rule in config.get("rules") or []:
        if rule.get("scanFrequency") in SCANNING_FREQUENCIES and any(
                filter_matches(f.get("filter", ""), name) for f in rule.get("repositoryFilters") or []):
            return rule
    return None


def _scan_on_push_verdict(repo: Item, registry: EvidenceRecord) -> Verdict:
    name, arn = repo["repositoryName"], repo["repositoryArn"]
    config = (registry.response or {}).get("scanningConfiguration") or {}
    scan_type = config.get("scanType") or "BASIC"
    repo_flag = (repo.get("imageScanningConfiguration") or {}).get("scanOnPush") is True
    evidence = (repo.record, registry)
    if rule := covering_rule(config, name):
        filters = ", ".join(f.get("filter", "") for f in rule.get("repositoryFilters") or [])
        return passed(arn, f"repository {name} is scanned by the registry's {scan_type} "
                      f"{rule['scanFrequency']} rule (filter {filters})", *evidence, region=repo.region)
    if repo_flag and scan_type != "ENHANCED":
        return passed(arn, f"repository {name} scans images on push", *evidence, region=repo.region)
    if repo_flag:
        return failed(arn, f"repository {name} sets scanOnPush, but the registry uses ENHANCED scanning "
                      "and no rule matches it", *evidence, region=repo.region)
    return failed(arn, f"repository {name} does not scan images on push and no registry rule covers it",
                  *evidence, region=repo.region)


@check("aws.ecr.scan_on_push", severity=Severity.MEDIUM, resource_type="AwsEcrRepository",
       title="ECR repositories scan images for vulnerabilities automatically",
       rationale="""Images must be checked for known vulnerabilities before they run. Scanning on push (or
       continuously) makes sure no image enters the registry unexamined.""",
       remediation="""In the ECR console choose Private registry > Settings > Scanning and add a scan-on-push
       or continuous rule whose filter matches the repository (`aws ecr
       put-registry-scanning-configuration`); under basic scanning `aws ecr
       put-image-scanning-configuration --image-scanning-configuration scanOnPush=true` also works.""")
def scan_on_push(inv: AwsInventory) -> Iterator[Verdict]:
    repos, errors = _repositories(inv)
    yield from errors
    for repo in repos:
        registry = inv.call("ecr", "get_registry_scanning_configuration", repo.region)
        why = unusable(registry, "get_registry_scanning_configuration")
        if registry is None or why:
            yield errored(repo["repositoryArn"], f"repository {repo['repositoryName']}: registry scanning "
                          f"configuration unknown: {why}", repo.record, registry, region=repo.region)
        else:
            yield _scan_on_push_verdict(repo, registry)


def rank(severity: str) -> int:
    severity = severity.upper()
    return SEVERITY_ORDER.index(severity) if severity in SEVERITY_ORDER else 0


def threshold(inv: AwsInventory) -> str:
    value = str(inv.options.get("ecr_min_severity", "HIGH")).upper()
    if value not in SEVERITY_ORDER:
        raise ValueError(f"ecr_min_severity must be one of {', '.join(SEVERITY_ORDER)}, not {value!r}")
    return value


def severity_counts(response: dict[str, Any]) -> Counter[str]:
    """Findings per severity: ECR's own summary when present, else a tally of the listed findings."""
    findings = response.get("imageScanFindings") or {}
    if "findingSeverityCounts" in findings:
        return Counter({str(k).upper(): int(v) for k, v in (findings["findingSeverityCounts"] or {}).items()})
    listed = [*(findings.get("findings") or []), *(findings.get("enhancedFindings") or [])]
    return Counter(str(f.get("severity", "UNDEFINED")).upper() for f in listed)


def newest_image(images: list[dict[str, Any]]) -> dict[str, Any]:
    """The same choice the collector makes when it fetches scan findings (latest imagePushedAt)."""
    return sorted(images, key=lambda i: str(i.get("imagePushedAt", "")))[-1]


def _describe(counts: Counter[str]) -> str:
    ordered = sorted(counts.items(), key=lambda kv: -rank(kv[0]))
    return ", ".join(f"{n} {sev}" for sev, n in ordered if n) or "no findings"


def _image_label(image: dict[str, Any]) -> str:
    tags = image.get("imageTags") or []
    digest = str(image.get("imageDigest", "?"))
    return f"{tags[0]} ({digest[:19]}…)" if tags else digest


@check("aws.ecr.image_vulnerabilities", severity=Severity.HIGH, resource_type="AwsEcrRepository",
       title="The newest image in each ECR repository has no serious known vulnerability",
       rationale="""Known vulnerabilities in deployed software must be fixed within set timeframes; the
       newest image is what the next deployment runs, so its scan must not report findings at or above
       the chosen severity.""",
       remediation="""Rebuild the image on patched base images and dependencies, push it and check its
       findings in the ECR console (Repositories > image > Vulnerabilities) or with
       `aws ecr describe-image-scan-findings`.""")
def image_vulnerabilities(inv: AwsInventory) -> Iterator[Verdict]:
    limit = threshold(inv)
    repos, errors = _repositories(inv)
    yield from errors
    for repo in repos:
        name, arn, region = repo["repositoryName"], repo["repositoryArn"], repo.region
        images = inv.call("ecr", "describe_images", region, repositoryName=name)
        why = unusable(images, "describe_images")
        if images is None or why:
            yield errored(arn, f"repository {name}: images unknown: {why}", repo.record, images,
                          region=region)
            continue
        details = (images.response or {}).get("imageDetails") or []
        if not details:
            continue
        image = newest_image(details)
        label = f"repository {name} latest image {_image_label(image)}"
        scan = inv.call("ecr", "describe_image_scan_findings", region, repositoryName=name,
                        imageId={"imageDigest": image.get("imageDigest")})
        evidence = (repo.record, images, scan)
        why = unusable(scan, "describe_image_scan_findings")
        if scan is None or why:
            yield errored(arn, f"{label}: scan findings unknown: {why}", *evidence, region=region)
            continue
        if scan.outcome is Outcome.ABSENT:
            yield errored(arn, f"{label}: latest image has not been scanned", *evidence, region=region)
            continue
        response = scan.response or {}
        status = (response.get("imageScanStatus") or {}).get("status")
        if status not in (None, *FINISHED_SCANS) or "imageScanFindings" not in response:
            detail = (response.get("imageScanStatus") or {}).get("description") or "no scan results"
            yield errored(arn, f"{label}: scan is {status or 'missing'}: {detail}", *evidence, region=region)
            continue
        counts = severity_counts(response)
        serious = Counter({sev: n for sev, n in counts.items() if n and rank(sev) >= rank(limit)})
        if serious:
            yield failed(arn, f"{label} has {_describe(serious)} finding(s) at or above {limit} "
                         "(organisation policy, stricter than PCI DSS 6.3.3: any such finding fails "
                         "regardless of age, where the standard allows a month for critical patches)",
                         *evidence, region=region)
        else:
            yield passed(arn, f"{label} has nothing at or above {limit} ({_describe(counts)})", *evidence,
                         region=region)
