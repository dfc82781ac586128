"""Targets: what a scan can assess. Each is a plug-in of the one pipeline.

A target knows how to reach what it assesses (`connect`, I/O that must succeed before any collection
starts, so bad credentials or an unreachable endpoint are a usage error and not a half scan), how to
collect its evidence (`collect`, I/O only) and how to index that evidence for its checks (`inventory`,
pure). Its checks live under `controls/<name>/` and are registered under the target's name. The engine,
the store, the assessment, the reports, the evidence pack and `diff` never know which target ran.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

from compliance.collect.record import EvidenceRecord

Progress = Callable[[int, int], None]
"""Called with (calls done, calls known so far) while a target collects."""


@dataclass
class Collected:
    """What one target's collection produced: where it looked, as whom, and every answer it got."""

    scope: dict[str, Any]
    identity: dict[str, Any] = field(default_factory=dict)
    evidence: list[EvidenceRecord] = field(default_factory=list)
    options: dict[str, Any] = field(default_factory=dict)
    """Options that change what checks conclude (thresholds, CDE labels): stored with the scan."""


class Target(Protocol):
    name: ClassVar[str]

    def connect(self) -> None:
        """Reach the target and learn who we are there; raise UsageError when that is impossible."""

    def collect(self, progress: Progress | None = None) -> Collected:
        """Every call the checks need, each answer (or error) an evidence record."""

    def inventory(self, collected: Collected) -> Any:
        """The evidence indexed for this target's checks: pure, no I/O.

        A target that covers several separate units (an organisation's accounts) may also define
        `inventories(collected) -> list`, one per unit; the engine then runs every check over each.
        """
