"""What one `comply` invocation shares across its commands: --debug, logging to stderr, error lines.

Everything meant for a person goes to stderr through here, passwords redacted, so stdout stays free
for machine output (`--out -`, `--format json`).
"""

from __future__ import annotations

import logging
import sys

from compliance.redact import redact

LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_state = {"debug": False}


class _StderrHandler(logging.Handler):
    """Writes to whatever sys.stderr is at the time (a test runner swaps it), redacted."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            sys.stderr.write(redact(self.format(record)) + "\n")
            sys.stderr.flush()
        except Exception:  # a log line must never end a scan
            self.handleError(record)


_handler = _StderrHandler()
_handler.setFormatter(logging.Formatter("comply: %(message)s"))


def start(*, debug: bool = False) -> None:
    _state["debug"] = debug
    log = logging.getLogger("comply")
    if _handler not in log.handlers:
        log.addHandler(_handler)
    log.propagate = False
    set_level("debug" if debug else "warning")


def stop() -> None:
    logging.getLogger("comply").removeHandler(_handler)


def set_level(name: str) -> None:
    logging.getLogger("comply").setLevel(LEVELS[name])


def debug() -> bool:
    return _state["debug"]


def error(message: str, prefix: str = "comply: ") -> None:
    """One line on stderr (a traceback only when --debug asked for it), with secrets masked."""
    sys.stderr.write(redact(f"{prefix}{message}") + "\n")
    sys.stderr.flush()
