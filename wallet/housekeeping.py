"""Work each server process does in the background: anchor the audit chain outside the database every
few seconds (and once more at shutdown), and reconcile pending top-ups with the acquirer."""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING

from wallet import audit, topups
from wallet.anchors import AnchorError
from wallet.db import admin_session

if TYPE_CHECKING:
    from wallet.runtime import Runtime

log = logging.getLogger("wallet")
ANCHOR_EVERY = 2.0


def seal_and_anchor(rt: Runtime) -> None:
    """Seal what is pending, then anchor the head (if it grew)."""
    with admin_session(rt.sessions) as session:
        audit.seal_all(session, rt.audit_key)  # commits each batch
        audit.anchor(session, rt.audit_key, rt.anchors)
        session.commit()  # releases the head row


class Housekeeper:
    def __init__(self, rt: Runtime, anchor_every: float = ANCHOR_EVERY) -> None:
        self._rt, self._every = rt, anchor_every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._conflict_logged = False

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="housekeeping", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """At shutdown: stop the loop, then seal and anchor one last time."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.anchor_now()

    def anchor_now(self) -> None:
        try:
            seal_and_anchor(self._rt)
        except audit.AnchorConflict as exc:
            if not self._conflict_logged:  # loud once; `wallet audit verify` says the rest
                log.error("audit anchoring stopped: %s", exc)
                self._conflict_logged = True
        except AnchorError as exc:
            log.error("audit anchoring failed: %s", exc)
        except Exception:
            log.exception("audit anchoring failed")

    def reconcile_now(self) -> None:
        try:
            with admin_session(self._rt.sessions) as session:
                done = topups.reconcile(self._rt.acquirer, session, grace=self._rt.config.topup_grace)
            if done.pending:
                log.info("reconciled top-ups: %s", done.line())
        except Exception:
            log.exception("top-up reconciliation failed")

    def _run(self) -> None:
        interval = self._rt.config.reconcile_interval
        next_reconcile = time.monotonic() + interval
        while not self._stop.wait(self._every):
            self.anchor_now()
            if interval and time.monotonic() >= next_reconcile:
                self.reconcile_now()
                next_reconcile = time.monotonic() + interval
