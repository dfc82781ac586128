"""A baseline: the failures a team already knows about, so a gate counts only what a change adds.

`--baseline` takes a scan id in the store, `latest`, or a findings.ocsf.json file. A failure is in the
baseline when the same check failed on the same resource there.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from compliance.errors import UsageError
from compliance.findings import Finding, Status


@dataclass(frozen=True)
class Baseline:
    label: str
    failures: frozenset[tuple[str, str]]
    """(check id, resource id) of every failure in the baseline."""

    def new(self, findings: list[Finding]) -> list[Finding]:
        return [f for f in findings if (f.check_id, f.resource_id) not in self.failures]


def from_ocsf(path: Path) -> Baseline:
    try:
        data = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read --baseline {path}: {getattr(exc, 'strerror', None) or exc}") from None
    except json.JSONDecodeError as exc:
        raise UsageError(f"--baseline {path} is not JSON (line {exc.lineno}): expected a findings.ocsf.json"
                         ) from None
    if not isinstance(data, list) or not all(isinstance(f, dict) for f in data):
        raise UsageError(f"--baseline {path} is not a findings.ocsf.json (a JSON array of findings)")
    failures = set()
    for n, f in enumerate(data, 1):
        try:
            if f["status_code"] == "FAIL":
                failures.add((str(f["metadata"]["event_code"]), str(f["resources"][0]["uid"])))
        except (KeyError, IndexError, TypeError):
            raise UsageError(f"--baseline {path}: finding {n} lacks status_code, metadata.event_code or "
                             "resources[0].uid") from None
    return Baseline(str(path), frozenset(failures))


def load_baseline(spec: str, store: object) -> Baseline:
    """Resolve --baseline before any collection: a file if one exists by that name, else a stored scan."""
    path = Path(spec)
    if path.suffix == ".json" or path.is_file():
        if not path.is_file():
            raise UsageError(f"--baseline {spec}: no such file")
        return from_ocsf(path)
    from compliance.store import Store

    assert isinstance(store, Store)
    scan_id = store.latest_scan_id() if spec == "latest" else spec
    if scan_id is None:
        raise UsageError(f"--baseline latest: no scans in {store.url} yet")
    scan = store.load_scan(scan_id)
    failures = frozenset((f.check_id, f.resource_id) for f in scan.findings if f.status is Status.FAIL)
    return Baseline(f"scan {scan.id}", failures)
