"""The output folder holds one scan's outputs: never two scans mixed, never half of one.

- A scan claims the folder before it collects anything: an exclusive `flock` on `.comply.lock` inside
  it, released by the kernel when the process ends however it ends. A second scan aimed at the same
  folder is refused (exit 2) with the holder's scan id, pid and start time.
- Outputs are rendered into a staging folder inside it (`.comply-staging-<scan id>`, hidden, on the
  same file system so every move is a rename) and published only when all are complete.
- Publishing writes a journal (`.comply-publish.json`) first, then renames each file into place,
  removes the outputs of the earlier scan that this one did not write, records what it wrote in
  `.comply-outputs.json` and drops the journal. A kill during those few renames is finished (rolled
  forward) by the next comply that claims the folder, so the folder ends as the old scan or the new
  one. A kill before publishing leaves the old outputs untouched.
- Only files comply wrote are removed: the ones listed in `.comply-outputs.json`, or for a folder
  written before that file existed, the fixed names comply uses. A user's notes or waivers file stay.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
import shutil
import socket
from pathlib import Path
from typing import Any

from compliance.errors import UsageError

LOCK = ".comply.lock"
MARKER = ".comply-outputs.json"
JOURNAL = ".comply-publish.json"
STAGING_PREFIX = ".comply-staging-"
LEGACY_OUTPUTS = frozenset({"findings.ocsf.json", "findings.csv", "results.sarif", "junit.xml", "report.html",
                            "report.pdf", "evidence.zip", "signing-key.pub", "requirement-results.json"})
"""What comply wrote into a folder before it kept a list: removed when a newer scan does not rewrite it."""


def _write_json(path: Path, value: Any) -> None:
    """Atomically: a reader (or a kill) sees the old file or the new one."""
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as handle:
        json.dump(value, handle, indent=2, sort_keys=True)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def check_out(out: Path | str, flag: str = "--out") -> Path:
    """Refuse an output folder that cannot work, before anything is collected; nothing is created yet."""
    text = str(out)
    if not text.strip():
        raise UsageError(f"{flag} is empty: give a folder (or - to stream one format to stdout)")
    path = Path(text)
    too_long = [part for part in path.parts if len(part.encode()) > 255]
    if too_long or len(text.encode()) > 4000:
        raise UsageError(f"{flag} {text[:60]}... is too long a path: each name may have 255 bytes")
    if path.exists() and not path.is_dir():
        raise UsageError(f"{flag} {path} is a file, not a folder")
    existing = path
    while not existing.exists():
        existing = existing.parent
    if existing != path and not existing.is_dir():
        raise UsageError(f"cannot create {flag} {path}: {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise UsageError(f"{flag} {path} is not writable" if existing == path else
                         f"cannot create {flag} {path}: {existing} is not writable")
    return path


class OutputFolder:
    """One claimed output folder: stage outputs, then publish them all at once."""

    def __init__(self, path: Path | str, flag: str = "--out") -> None:
        self.path = check_out(path, flag)
        self.flag = flag
        self._lock: int | None = None

    def claim(self, scan_id: str) -> None:
        """Create the folder if needed and hold it for this scan, or refuse naming the scan holding it."""
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {self.flag} {self.path}: {exc.strerror}") from None
        try:
            fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as exc:
            raise UsageError(f"{self.flag} {self.path} is not writable: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = _read_json(self.path / LOCK) or {}
            os.close(fd)
            raise UsageError(
                f"{self.flag} {self.path} is in use by scan {holder.get('scan_id', '?')} "
                f"(pid {holder.get('pid', '?')} on {holder.get('host', '?')}, started "
                f"{holder.get('started_at', '?')}): wait for it or choose another {self.flag}") from None
        self._lock = fd
        info = {"scan_id": scan_id, "pid": os.getpid(), "host": socket.gethostname(),
                "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        self.recover()

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)
            self._lock = None

    def __enter__(self) -> OutputFolder:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()

    def staging(self, scan_id: str) -> Path:
        path = self.path / f"{STAGING_PREFIX}{scan_id}"
        shutil.rmtree(path, ignore_errors=True)
        path.mkdir()
        return path

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def _previous(self) -> list[str]:
        marker = _read_json(self.path / MARKER)
        if marker is not None and isinstance(marker.get("files"), list):
            return [str(f) for f in marker["files"]]
        return sorted(n for n in LEGACY_OUTPUTS if (self.path / n).is_file())

    def publish(self, staging: Path, scan_id: str) -> list[Path]:
        """Move every staged file into place and remove the earlier scan's outputs this one lacks."""
        files = sorted(str(p.relative_to(staging)) for p in staging.rglob("*") if p.is_file())
        remove = [f for f in self._previous() if f not in files]
        _write_json(self.path / JOURNAL, {"scan_id": scan_id, "staging": staging.name, "files": files,
                                          "remove": remove})
        self._roll_forward()
        return [self.path / f for f in files]

    def _roll_forward(self) -> None:
        journal = _read_json(self.path / JOURNAL)
        if journal is None:
            return
        staging = self.path / str(journal.get("staging", ""))
        for name in journal.get("files", []):
            source, target = staging / name, self.path / name
            if source.is_file():
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(source, target)
        for name in journal.get("remove", []):
            with contextlib.suppress(FileNotFoundError, IsADirectoryError):
                (self.path / name).unlink()
        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        _write_json(self.path / MARKER, {"scan_id": journal.get("scan_id"), "files": journal.get("files", []),
                                         "published_at": now})
        (self.path / JOURNAL).unlink()
        if staging != self.path:
            shutil.rmtree(staging, ignore_errors=True)

    def recover(self) -> None:
        """Finish a publish a kill interrupted; drop staging folders of scans that never got that far."""
        self._roll_forward()
        for leftover in self.path.glob(f"{STAGING_PREFIX}*"):
            shutil.rmtree(leftover, ignore_errors=True)
        (self.path / (JOURNAL + ".tmp")).unlink(missing_ok=True)
        (self.path / (MARKER + ".tmp")).unlink(missing_ok=True)
