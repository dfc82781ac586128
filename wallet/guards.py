"""Request guards that apply to every route: security headers and per-client rate limits."""

from __future__ import annotations

import threading
import time

from flask import Response

SECURITY_HEADERS = {
    "Strict-Transport-Security": "max-age=63072000; includeSubDomains",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Cross-Origin-Resource-Policy": "same-origin",
}


_LOWER = {name.lower(): (name, value) for name, value in SECURITY_HEADERS.items()}


def add_security_headers(response: Response) -> Response:
    """Add each security header the response does not set itself, and drop `Server`. One pass over the
    response's headers: `Headers.setdefault` scans them all once per header, on every request."""
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}
    if "server" in present:
        headers.remove("Server")
    for lower, (name, value) in _LOWER.items():
        if lower not in present:
            headers.add(name, value)
    return response


class RateLimiter:
    """A token bucket per key: `rate` requests a second on average, bursts of up to `burst`."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic) -> None:  # type: ignore[no-untyped-def]
        self.rate, self.burst, self._clock = rate, burst, clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str) -> float:
        """0 when the request may proceed, else the seconds to wait before retrying."""
        with self._lock:
            now = self._clock()
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate
