"""When AWS stops supporting what a workload runs on: EKS Kubernetes versions and Lambda runtimes.

Dates are AWS's published calendars (EKS: "Kubernetes version lifecycle on EKS"; Lambda: "Lambda
runtimes", deprecation column). They are data: add a row when AWS announces a version or moves a date.
Checks compare them with the moment the evidence was collected, never with the clock.
"""

from __future__ import annotations

import datetime as dt
from typing import NamedTuple


class KubernetesSupport(NamedTuple):
    standard_ends: dt.date
    """After this day the version is in (paid) extended support: still patched, time to upgrade."""
    extended_ends: dt.date
    """After this day AWS no longer patches the version and upgrades the cluster itself."""


EKS_KUBERNETES: dict[str, KubernetesSupport] = {
    "1.23": KubernetesSupport(dt.date(2023, 10, 11), dt.date(2024, 10, 11)),
    "1.24": KubernetesSupport(dt.date(2024, 1, 31), dt.date(2025, 1, 31)),
    "1.25": KubernetesSupport(dt.date(2024, 5, 1), dt.date(2025, 5, 1)),
    "1.26": KubernetesSupport(dt.date(2024, 6, 11), dt.date(2025, 6, 11)),
    "1.27": KubernetesSupport(dt.date(2024, 7, 24), dt.date(2025, 7, 24)),
    "1.28": KubernetesSupport(dt.date(2024, 11, 26), dt.date(2025, 11, 26)),
    "1.29": KubernetesSupport(dt.date(2025, 3, 23), dt.date(2026, 3, 23)),
    "1.30": KubernetesSupport(dt.date(2025, 7, 23), dt.date(2026, 7, 23)),
    "1.31": KubernetesSupport(dt.date(2025, 11, 26), dt.date(2026, 11, 26)),
    "1.32": KubernetesSupport(dt.date(2026, 3, 23), dt.date(2027, 3, 23)),
    "1.33": KubernetesSupport(dt.date(2026, 7, 29), dt.date(2027, 7, 29)),
    "1.34": KubernetesSupport(dt.date(2026, 12, 2), dt.date(2027, 12, 2)),
    "1.35": KubernetesSupport(dt.date(2027, 3, 27), dt.date(2028, 3, 27)),
}
"""Minor versions EKS has offered; a version older than the oldest row is long out of support."""

_LAMBDA_TABLE = """
    nodejs=2016-10-31 nodejs4.3=2020-03-05 nodejs4.3-edge=2020-03-05 nodejs6.10=2019-08-12
    nodejs8.10=2020-03-06 nodejs10.x=2021-07-30 nodejs12.x=2023-03-31 nodejs14.x=2023-12-04
    nodejs16.x=2024-06-12 nodejs18.x=2025-09-01 nodejs20.x=2026-04-30 nodejs22.x=2027-04-30
    python2.7=2021-07-15 python3.6=2022-07-18 python3.7=2023-12-04 python3.8=2024-10-14
    python3.9=2025-12-15 python3.10=2026-06-30 python3.11=2026-06-30 python3.12=2028-10-31
    python3.13=2029-06-30 java8=2024-01-08 java8.al2=2026-06-30 java11=2026-06-30
    java17=2026-06-30 java21=2029-06-30 dotnetcore1.0=2019-07-27 dotnetcore2.0=2019-05-30
    dotnetcore2.1=2022-01-05 dotnetcore3.1=2023-04-03 dotnet5.0=2022-05-10 dotnet6=2024-11-12
    dotnet7=2024-05-14 dotnet8=2026-11-10 ruby2.5=2021-07-30 ruby2.7=2023-11-27
    ruby3.2=2026-03-31 ruby3.3=2027-03-31 go1.x=2024-01-08 provided=2024-01-08
    provided.al2=2026-06-30 provided.al2023=2029-06-30
"""

LAMBDA_DEPRECATED: dict[str, dt.date] = {
    name: dt.date.fromisoformat(day) for name, day in (entry.split("=") for entry in _LAMBDA_TABLE.split())
}
"""Each managed runtime and the day AWS deprecates it (no more security patches). Runtimes not listed
are newer than this table."""


def minor_version(version: str) -> tuple[int, int] | None:
    """``1.29`` (or ``1.29.3``) as (1, 29); None when it is not a version number."""
    parts = str(version).split(".")
    try:
        return int(parts[0]), int(parts[1])
    except (IndexError, ValueError):
        return None
