"""ECR checks: images are scanned when pushed, the newest image of each repository is clean and none of
its serious findings is overdue, tags cannot be moved and repository policies are not public."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from compliance.collect.record import EvidenceRecord, Outcome
from compliance.findings import Severity
from controls.aws.inventory import AwsInventory, Item
from controls.aws.verdicts import (
    Judgement,
    Listing,
    age_days,
    answer,
    bad,
    each,
    good,
    listing_errors,
    public_statements,
    unknown,
    unusable,
)
from controls.registry import Verdict, check, errored, failed, passed

SEVERITY_ORDER = ("UNDEFINED", "INFORMATIONAL", "LOW", "MEDIUM", "HIGH", "CRITICAL")
"""ECR's finding severities, lowest first (Inspector's UNTRIAGED ranks with UNDEFINED)."""
SCANNING_FREQUENCIES = ("SCAN_ON_PUSH", "CONTINUOUS_SCAN")
FINISHED_SCANS = ("COMPLETE", "ACTIVE")
DEFAULT_MAX_FINDING_AGE = 30
"""Days a finding at or above the severity threshold may stay open (PCI DSS 6.3.3: critical patches
within one month of release)."""


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


@dataclass(frozen=True)
class LatestScan:
    """The newest image of a repository and its finished scan, with the evidence both came from."""

    repo: Item
    image: dict[str, Any]
    label: str
    response: dict[str, Any]
    evidence: tuple[EvidenceRecord | None, ...]


def latest_scans(inv: AwsInventory) -> Iterator[LatestScan | Verdict]:
    """Each repository's newest image with its finished scan, or the ERROR that says why it is missing."""
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
        yield LatestScan(repo, image, label, response, evidence)


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
    for scan in latest_scans(inv):
        if isinstance(scan, Verdict):
            yield scan
            continue
        arn, region, label = scan.repo["repositoryArn"], scan.repo.region, scan.label
        counts = severity_counts(scan.response)
        serious = Counter({sev: n for sev, n in counts.items() if n and rank(sev) >= rank(limit)})
        if serious:
            yield failed(arn, f"{label} has {_describe(serious)} finding(s) at or above {limit} "
                         "(organisation policy, stricter than PCI DSS 6.3.3: any such finding fails "
                         "regardless of age, where the standard allows a month for critical patches)",
                         *scan.evidence, region=region)
        else:
            yield passed(arn, f"{label} has nothing at or above {limit} ({_describe(counts)})",
                         *scan.evidence, region=region)


def max_finding_age(inv: AwsInventory) -> int:
    value = inv.options.get("ecr_max_finding_age_days", DEFAULT_MAX_FINDING_AGE)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"ecr_max_finding_age_days must be a whole number of days >= 0, not {value!r}")
    return value


def serious_findings(scan: LatestScan, limit: str) -> list[tuple[str, str, Any]]:
    """(finding, severity, first seen) for every finding at or above `limit`.

    Enhanced (Inspector) findings carry the day they were first observed. Basic findings carry no date
    of their own, so they are dated by the image's push: the image has carried them since then, as far
    as the scan can tell (which errs towards reporting a finding as older, never younger)."""
    findings = scan.response.get("imageScanFindings") or {}
    found = []
    for item in findings.get("enhancedFindings") or []:
        severity = str(item.get("severity", "UNDEFINED")).upper()
        if rank(severity) >= rank(limit):
            name = (item.get("packageVulnerabilityDetails") or {}).get("vulnerabilityId") or item.get("title")
            found.append((str(name or "?"), severity, item.get("firstObservedAt")))
    pushed = scan.image.get("imagePushedAt")
    listed = findings.get("findings") or []
    for item in listed:
        severity = str(item.get("severity", "UNDEFINED")).upper()
        if rank(severity) >= rank(limit):
            found.append((str(item.get("name") or "?"), severity, pushed))
    if not listed and not findings.get("enhancedFindings"):
        for severity, n in severity_counts(scan.response).items():
            if n and rank(severity) >= rank(limit):
                found.extend((f"{severity} finding {i + 1}", severity, pushed) for i in range(n))
    return found


@check("aws.ecr.findings_overdue", severity=Severity.HIGH, resource_type="AwsEcrRepository",
       title="No serious image finding stays unfixed beyond the patching deadline",
       rationale="""Critical and high vulnerabilities must be patched within a set time (a month for
       critical ones under PCI DSS 6.3.3), and internal scans must show them resolved. A finding still open
       in the newest image after that many days means the deadline was missed.""",
       remediation="""Rebuild the image on patched base images and dependencies and push it; choose the
       deadline with `--ecr-max-finding-age DAYS` (default 30) and the severity with
       `--ecr-min-severity`.""")
def findings_overdue(inv: AwsInventory) -> Iterator[Verdict]:
    limit, days = threshold(inv), max_finding_age(inv)
    for scan in latest_scans(inv):
        if isinstance(scan, Verdict):
            yield scan
            continue
        arn, region, label = scan.repo["repositoryArn"], scan.repo.region, scan.label
        found = serious_findings(scan, limit)
        record = scan.evidence[-1]
        aged = [(name, sev, age_days(first, record)) for name, sev, first in found]  # type: ignore[arg-type]
        undated = [name for name, _, age in aged if age is None]
        if undated:
            yield errored(arn, f"{label}: cannot tell how long {', '.join(undated[:3])} has been open "
                          "(no first-seen or push date)", *scan.evidence, region=region)
            continue
        overdue = sorted(((age, name, sev) for name, sev, age in aged if age is not None and age > days),
                         reverse=True)
        if overdue:
            age, name, sev = overdue[0]
            yield failed(arn, f"{label} has {len(overdue)} finding(s) at or above {limit} open longer than "
                         f"{days} days (oldest: {name}, {sev}, {age} days)", *scan.evidence, region=region)
        elif found:
            yield passed(arn, f"{label} has {len(found)} finding(s) at or above {limit}, none open longer "
                         f"than {days} days", *scan.evidence, region=region)
        else:
            yield passed(arn, f"{label} has no finding at or above {limit}", *scan.evidence, region=region)


REPOSITORIES = Listing("ecr", "describe_repositories", "repositories", "repository/*",
                       arn=lambda inv, repo: repo["repositoryArn"],
                       label=lambda repo: f"repository {repo.get('repositoryName', '?')}")


@check("aws.ecr.immutable_tags", severity=Severity.MEDIUM, resource_type="AwsEcrRepository",
       title="ECR repositories keep image tags immutable",
       rationale="""With mutable tags anyone who can push may replace the image behind a released tag, so
       what runs in production is no longer the image that was reviewed, scanned and approved.""",
       remediation="""Run `aws ecr put-image-tag-mutability --repository-name NAME
       --image-tag-mutability IMMUTABLE` (or IMMUTABLE_WITH_EXCLUSION for a few moving tags such as
       latest).""")
def immutable_tags(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(repo: Item) -> Judgement:
        setting = repo.get("imageTagMutability")
        if setting is None:
            return unknown("does not state whether its tags are mutable")
        if str(setting).startswith("IMMUTABLE"):
            return good(f"keeps tags immutable ({setting})")
        return bad(f"lets pushed images replace existing tags ({setting})")

    yield from each(inv, REPOSITORIES, judge)


@check("aws.ecr.repository_policy_not_public", severity=Severity.HIGH, resource_type="AwsEcrRepository",
       title="ECR repository policies do not grant access to everyone",
       rationale="""A repository policy allowing any principal lets anyone on the internet pull the
       payment service's images (and the secrets or internals baked into them), or push over them.""",
       remediation="""Remove the statements with Principal "*" (or add conditions such as
       aws:PrincipalOrgID) with `aws ecr set-repository-policy`, or delete the policy with `aws ecr
       delete-repository-policy`.""")
def repository_policy_not_public(inv: AwsInventory) -> Iterator[Verdict]:
    def judge(repo: Item) -> Judgement:
        rec, why = answer(inv, repo, "ecr", "get_repository_policy", repositoryName=repo["repositoryName"])
        if why:
            return unknown(f"policy unknown: {why}", rec)
        if rec.outcome is Outcome.ABSENT:  # type: ignore[union-attr]
            return good("has no repository policy (access comes from IAM only)", rec)
        open_to_all = public_statements((rec.response or {}).get("policyText"))  # type: ignore[union-attr]
        if open_to_all:
            sids = ", ".join(str(st.get("Sid") or "unnamed") for st in open_to_all)
            return bad(f"has a policy granting everyone access (statement {sids})", rec)
        return good("has a policy that grants nothing to everyone", rec)

    yield from each(inv, REPOSITORIES, judge)
