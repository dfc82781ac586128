"""The generic pipeline: targets connect before any collects, and several targets make one scan."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
from moto import mock_aws

from compliance.collect.record import EvidenceRecord, Outcome, utcnow
from compliance.engine import run_scan
from compliance.errors import UsageError
from compliance.targets import Collected
from compliance.targets.aws import AwsTarget


@dataclass
class ProbeTarget:
    """A target with no checks of its own: enough to watch the engine's order of work."""

    name: ClassVar[str] = "probe"
    refuse: bool = False
    calls: list[str] = field(default_factory=list)

    def connect(self) -> None:
        self.calls.append("connect")
        if self.refuse:
            raise UsageError("probe: unreachable")

    def collect(self, progress: Any = None) -> Collected:
        self.calls.append("collect")
        if progress is not None:
            progress(1, 1)
        record = EvidenceRecord("probe", "probe", "ping", "here", {}, utcnow(), Outcome.OK, response={})
        return Collected({"url": "https://probe.invalid"}, {"who": "tester"}, [record], {"depth": 1})

    def inventory(self, collected: Collected) -> Any:
        return collected.evidence


@mock_aws
def test_one_target_keeps_its_scope_flat_and_runs_only_its_own_checks():
    scan = run_scan([AwsTarget(regions=["us-east-1"])])
    assert scan.target == "aws"
    assert scan.scope["account_id"] == "123456789012"
    assert scan.options["checks"] and all(c.startswith("aws.") for c in scan.options["checks"])
    assert {f.check_id for f in scan.findings} <= set(scan.options["checks"])
    assert scan.started_at <= scan.finished_at


@mock_aws
def test_several_targets_make_one_scan_keyed_by_target():
    seen: list[tuple[str, int, int]] = []
    probe = ProbeTarget()
    scan = run_scan([AwsTarget(regions=["us-east-1"]), probe],
                    progress=lambda name, done, total: seen.append((name, done, total)))
    assert scan.target == "aws+probe"
    assert scan.scope["aws"]["account_id"] == "123456789012"
    assert scan.scope["probe"] == {"url": "https://probe.invalid"}
    assert scan.identity["probe"] == {"who": "tester"}
    assert scan.options["depth"] == 1 and scan.options["ecr_min_severity"] == "HIGH"
    assert scan.options["ecr_max_finding_age_days"] == 30
    assert any(r.source == "probe" for r in scan.evidence) and any(r.source == "aws" for r in scan.evidence)
    assert ("probe", 1, 1) in seen and any(name == "aws" for name, _, _ in seen)


@mock_aws
def test_a_target_that_cannot_connect_stops_the_scan_before_anything_is_collected():
    first, broken = ProbeTarget(), ProbeTarget(refuse=True)
    with pytest.raises(UsageError, match="unreachable"):
        run_scan([first, broken])
    assert first.calls == ["connect"]


def test_a_selection_narrows_the_checks_that_run():
    with mock_aws():
        scan = run_scan([AwsTarget(regions=["us-east-1"])], select=lambda c: c.id.startswith("aws.s3."))
    assert scan.options["checks"] and all(c.startswith("aws.s3.") for c in scan.options["checks"])


def test_a_scan_needs_a_target():
    with pytest.raises(ValueError, match="at least one target"):
        run_scan([])
