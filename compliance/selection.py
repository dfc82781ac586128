"""Which checks a scan runs: --checks, --exclude-checks, --services and --severity, checked before any
collection so a typo is a usage error (exit 2), never a scan that silently ran nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from compliance.errors import UsageError
from compliance.findings import Severity
from controls.registry import Check


def service_of(check: Check) -> str:
    """The service part of a check id: ``aws.s3.tls_only`` -> ``s3``."""
    return check.id.split(".")[1] if check.id.count(".") >= 2 else check.target


def _split(values: Iterable[str] | None) -> list[str]:
    return [part.strip() for value in values or () for part in str(value).split(",") if part.strip()]


def parse_selection(checks: Sequence[str] | None, exclude: Sequence[str] | None,
                    services: Sequence[str] | None, severity: str | None,
                    known: Sequence[Check]) -> Callable[[Check], bool] | None:
    """A predicate over checks, or None when nothing narrows the scan. Unknown ids, services or
    severities raise UsageError naming them."""
    wanted, dropped, kinds = _split(checks), _split(exclude), [s.lower() for s in _split(services)]
    ids = {c.id for c in known}
    unknown = [c for c in (*wanted, *dropped) if c not in ids]
    if unknown:
        raise UsageError(f"unknown check id(s): {', '.join(unknown)} (see `comply checks list`)")
    all_services = {service_of(c) for c in known}
    strange = [s for s in kinds if s not in all_services]
    if strange:
        raise UsageError(f"unknown service(s): {', '.join(strange)}; "
                         f"known: {', '.join(sorted(all_services))}")
    minimum = None
    if severity:
        try:
            minimum = Severity.parse(severity)
        except ValueError as exc:
            raise UsageError(f"--severity: {exc}") from None
    if not (wanted or dropped or kinds or minimum is not None):
        return None

    def select(check: Check) -> bool:
        return ((not wanted or check.id in wanted) and check.id not in dropped
                and (not kinds or service_of(check) in kinds)
                and (minimum is None or check.severity >= minimum))

    if not any(select(c) for c in known):
        raise UsageError("the check selection leaves no check to run")
    return select
