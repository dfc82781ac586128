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

    select = CheckSelection(wanted, dropped, kinds, minimum)
    if not any(select(c) for c in known):
        raise UsageError("the check selection leaves no check to run")
    return select


class CheckSelection:
    """The predicate parse_selection returns, which can also say why it leaves a check out."""

    def __init__(self, wanted: list[str], dropped: list[str], kinds: list[str], minimum: Severity | None):
        self.wanted, self.dropped, self.kinds, self.minimum = wanted, dropped, kinds, minimum

    def __call__(self, check: Check) -> bool:
        return self.why(check) is None

    def why(self, check: Check) -> str | None:
        """The option that leaves `check` out, or None when it runs."""
        if self.wanted and check.id not in self.wanted:
            return "not selected (--checks)"
        if check.id in self.dropped:
            return "excluded with --exclude-checks"
        if self.kinds and service_of(check) not in self.kinds:
            return f"service not selected (--services {','.join(self.kinds)})"
        if self.minimum is not None and check.severity < self.minimum:
            return f"below --severity {self.minimum.label}"
        return None
