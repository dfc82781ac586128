"""The pipeline every target runs through: connect, collect, evaluate. I/O stays in the targets."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from compliance.collect.record import utcnow
from compliance.scan import Scan
from compliance.targets import Collected, Target
from controls.registry import Check, all_checks, run_checks

ScanProgress = Callable[[str, int, int], None]
"""Called with (target name, calls done, calls known so far)."""

Selection = Callable[[Check], bool]


def selected_checks(target: str, select: Selection | None = None) -> list[Check]:
    return [c for c in all_checks(target) if select is None or select(c)]


def run_scan(targets: Sequence[Target], *, select: Selection | None = None,
             progress: ScanProgress | None = None, connected: Callable[[], None] | None = None) -> Scan:
    """Scan one or several targets into one Scan: one store entry, one report, one evidence pack.

    Every target connects before any collects, so a credential or endpoint problem in the last target
    does not cost the collection of the first.
    """
    if not targets:
        raise ValueError("a scan needs at least one target")
    started = utcnow()
    for target in targets:
        target.connect()
    if connected is not None:
        connected()  # e.g. claim the output folder: after every check that can refuse, before collection
    collected: list[tuple[Target, Collected]] = []
    for target in targets:
        report = None if progress is None else _for_target(progress, target.name)
        collected.append((target, target.collect(report)))
    scan = _new_scan(collected, started)
    ran: list[str] = []
    for n, (target, part) in enumerate(collected):
        checks = selected_checks(target.name, select)
        ran.extend(c.id for c in checks)
        if left_out := checks_left_out(target.name, checks, select):
            scope = scan.scope if len(collected) == 1 else scan.scope[collected[n][0].name]
            scope["excluded"] = [*scope.get("excluded", []), *left_out]
        scan.evidence.extend(part.evidence)
        for inventory in _inventories(target, part):
            scan.findings.extend(run_checks(checks, inventory))
    scan.options["checks"] = ran
    scan.finished_at = utcnow()
    return scan


def checks_left_out(target: str, ran: list[Check], select: Selection | None,
                    shown: int = 10) -> list[str]:
    """The checks the selection left out, one line per reason, for the scope statement."""
    kept = {c.id for c in ran}
    why = getattr(select, "why", None)
    by_reason: dict[str, list[str]] = {}
    for check in all_checks(target):
        if check.id not in kept:
            reason = (why(check) if why else None) or "not selected"
            by_reason.setdefault(reason, []).append(check.id)
    return [f"{_plural(len(ids), 'check')} ({', '.join(ids[:shown])}"
            + (f" and {len(ids) - shown} more" if len(ids) > shown else "") + f"): {reason}"
            for reason, ids in by_reason.items()]


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def _inventories(target: Target, part: Collected) -> list[Any]:
    """A target that covers several units (an organisation's accounts) gives one inventory for each."""
    several = getattr(target, "inventories", None)
    return list(several(part)) if several is not None else [target.inventory(part)]


def _for_target(progress: ScanProgress, name: str) -> Callable[[int, int], None]:
    return lambda done, total: progress(name, done, total)


def _new_scan(collected: list[tuple[Target, Collected]], started: str) -> Scan:
    """A single target keeps its scope flat; several are keyed by target name."""
    options: dict = {}
    for _, part in collected:
        options.update(part.options)
    if len(collected) == 1:
        target, part = collected[0]
        return Scan(target=target.name, scope=dict(part.scope), identity=dict(part.identity),
                    started_at=started, options=options)
    return Scan(target="+".join(t.name for t, _ in collected),
                scope={t.name: dict(p.scope) for t, p in collected},
                identity={t.name: dict(p.identity) for t, p in collected},
                started_at=started, options=options)
