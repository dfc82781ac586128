"""HTTP probes with a hard request budget and bounded concurrency; every exchange an evidence record.

The record keeps what an assessor needs to see the exchange again: the method and URL, the request
headers (credentials masked), the status, the response headers and a bounded excerpt of the body.
Card numbers are found in the whole body and stored only masked; tokens and secrets never reach it.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
    SSLError,
)

from compliance.collect.record import EvidenceRecord, Outcome, utcnow
from compliance.collect.web.pan import find_card_numbers, mask_text

EXCERPT_CHARS = 2048
SCANNED_BYTES = 1 << 20
"""Card numbers are looked for in the first MiB of each body; the excerpt keeps 2 KiB of it."""

_SECRET_FIELDS = re.compile(
    r'("(?:access_token|refresh_token|id_token|client_secret|password)"\s*:\s*)"[^"]*"', re.I)
_SECRET_FORM = re.compile(r"((?:^|&)(?:client_secret|password)=)[^&]*", re.I)
_MASKED_HEADERS = ("authorization", "cookie", "set-cookie", "proxy-authorization", "x-api-key")


@dataclass(frozen=True)
class Probe:
    """One request to send: what it tests (`probe`), on which operation, as which client."""

    probe: str
    operation: str
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None
    client: str | None = None
    note: str | None = None
    """What was sent, in words, where the URL alone does not say it (e.g. 'JSON nested 512 deep')."""
    extra: dict[str, Any] = field(default_factory=dict)
    """Facts the checks need about the probe (the owner of the object asked for, the attempt number)."""


def scrub(text: str) -> str:
    """Text fit for the evidence: secrets blanked, card numbers masked."""
    return mask_text(_SECRET_FORM.sub(r"\1***", _SECRET_FIELDS.sub(r'\1"***"', text)))


def _shown_header(name: str, value: str) -> str:
    if name.lower() in _MASKED_HEADERS:
        scheme, _, rest = value.partition(" ")
        return f"{scheme} ***" if rest else "***"
    return scrub(value)


def _error_code(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) if isinstance(exc, MaxRetryError) else exc
    if isinstance(reason, NewConnectionError):  # (a subclass of ConnectTimeoutError in urllib3 2)
        return "ConnectionRefused" if "refused" in str(reason).lower() else "ConnectionFailed"
    if isinstance(reason, ConnectTimeoutError | ReadTimeoutError | TimeoutError):
        return "Timeout"
    if isinstance(reason, SSLError):
        return "TLSError"
    if isinstance(reason, ProtocolError):
        return "ConnectionClosed"
    return type(reason).__name__


class Budget:
    """A hard cap on requests sent, shared by every probe of one scan."""

    def __init__(self, limit: int) -> None:
        self.limit, self.used = limit, 0
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            if self.used >= self.limit:
                return False
            self.used += 1
            return True

    @property
    def left(self) -> int:
        return max(0, self.limit - self.used)


class HttpProber:
    """Sends probes to one origin. TLS is verified unless `verify` is False (the TLS checks judge
    the certificate on their own, from the TLS survey, whatever this client trusts)."""

    def __init__(self, origin: str, *, budget: Budget, timeout: float = 10.0, concurrency: int = 4,
                 verify: bool = True, ca_file: str | None = None) -> None:
        self.origin, self.budget, self.concurrency = origin, budget, max(1, concurrency)
        self.timeout = timeout
        if not verify:
            urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
        self._pool = urllib3.PoolManager(
            num_pools=4, maxsize=self.concurrency, retries=False, timeout=urllib3.Timeout(timeout),
            cert_reqs="CERT_REQUIRED" if verify else "CERT_NONE", ca_certs=ca_file,
            assert_hostname=None if verify else False)

    def send(self, probe: Probe) -> EvidenceRecord:
        return self.exchange(probe)[0]

    def exchange(self, probe: Probe) -> tuple[EvidenceRecord, str]:
        """The evidence record and the body as received (up to a MiB), for the few callers that need
        what the record masks: the OpenAPI document and a client's access token."""
        params = self._params(probe)
        if not self.budget.take():
            return self._record(probe, params, error=("BudgetExhausted",
                                                      f"not sent: the budget of {self.budget.limit} "
                                                      "requests was used up")), ""
        started = time.monotonic()
        try:
            response = self._pool.request(probe.method, probe.url, body=probe.body, headers=probe.headers,
                                          redirect=False, preload_content=False, retries=False)
            try:
                raw = response.read(SCANNED_BYTES, decode_content=True) or b""
                more = bool(response.read(1))
            finally:
                response.release_conn()
        except (HTTPError, OSError) as exc:
            return self._record(probe, params, error=(_error_code(exc), _one_line(exc))), ""
        elapsed = round((time.monotonic() - started) * 1000, 1)
        headers = {name.lower(): ", ".join(response.headers.getlist(name)) for name in response.headers}
        text = raw.decode("utf-8", errors="replace")
        header_text = "\n".join(f"{k}: {v}" for k, v in headers.items())
        cards = find_card_numbers(text + "\n" + header_text)
        return self._record(probe, params, response={
            "status": response.status,
            "headers": {k: _shown_header(k, v) for k, v in headers.items()},
            "body": scrub(text[:EXCERPT_CHARS]),
            "body_bytes": len(raw),
            "truncated": more or len(text) > EXCERPT_CHARS,
            "card_numbers": list(cards.full),
            "overexposed_card_numbers": list(cards.overexposed),
            "elapsed_ms": elapsed,
        }), text

    def send_all(self, probes: Sequence[Probe],
                 done: Callable[[], None] | None = None) -> list[EvidenceRecord]:
        """Send concurrently (at most `concurrency` at once); records come back in probe order."""

        def one(probe: Probe) -> EvidenceRecord:
            rec = self.send(probe)
            if done is not None:
                done()
            return rec

        if len(probes) <= 1 or self.concurrency == 1:
            return [one(p) for p in probes]
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(one, probes))

    def _params(self, probe: Probe) -> dict[str, Any]:
        params: dict[str, Any] = {"probe": probe.probe, "method": probe.method, "url": scrub(probe.url),
                                  "headers": {k: _shown_header(k, v) for k, v in probe.headers.items()}}
        if probe.client:
            params["client"] = probe.client
        if probe.note:
            params["note"] = probe.note
        params.update(probe.extra)
        if probe.body is not None:
            body = probe.body.decode("utf-8", errors="replace")
            params["body"] = scrub(body[:EXCERPT_CHARS])
            params["body_bytes"] = len(probe.body)
        return params

    def _record(self, probe: Probe, params: dict[str, Any], response: dict[str, Any] | None = None,
                error: tuple[str, str] | None = None) -> EvidenceRecord:
        if error is not None:
            return EvidenceRecord("web", "http", probe.operation, self.origin, params, utcnow(),
                                  Outcome.ERROR, error_code=error[0], error_message=error[1])
        return EvidenceRecord("web", "http", probe.operation, self.origin, params, utcnow(), Outcome.OK,
                              response=response, request_id=(response or {}).get("headers", {}).get(
                                  "x-request-id"))

    def close(self) -> None:
        self._pool.clear()


def _one_line(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None) or exc
    return " ".join(str(reason).split())[:300] or type(exc).__name__
