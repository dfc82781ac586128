"""The parts of gunicorn that answer or log before the Flask app sees a request, made to follow the
app's rules: no card number in any log line (its error and access logs go through the same masking
JSON formatter as the app's), error pages as RFC 7807 JSON with the security headers and no echo of
the offending input (gunicorn's own pages quote the bad header or request line back), and no
`Server` banner on any response."""

from __future__ import annotations

import contextlib
import functools
import json
import multiprocessing
import select
import ssl
import time
from collections import deque
from http import HTTPStatus
from typing import Any, ClassVar

from gunicorn import glogging, util
from gunicorn.http import errors as http_errors
from gunicorn.http import wsgi
from gunicorn.workers.gthread import ThreadWorker

from wallet.guards import SECURITY_HEADERS
from wallet.logs import JsonFormatter, RedactPans

# (exception classes, status, title); the first match wins, anything else gunicorn raises is a 400.
_CLIENT_ERRORS: tuple[tuple[tuple[type[BaseException], ...], int, str], ...] = (
    ((http_errors.InvalidResponseHeader, http_errors.InvalidResponseHeaderName), 500, "Internal error"),
    ((http_errors.ConfigurationProblem,), 500, "Internal error"),
    ((http_errors.LimitRequestLine,), 414, "Request line too long"),
    ((http_errors.LimitRequestHeaders,), 431, "Request header fields too large"),
    ((http_errors.UnsupportedTransferCoding,), 501, "Transfer coding not supported"),
    ((http_errors.ExpectationFailed,), 417, "Expectation failed"),
    ((http_errors.ForbiddenProxyRequest,), 403, "Forbidden"),
    ((http_errors.ParseException,), 400, "Malformed request"),
)


def classify(exc: BaseException) -> tuple[int, str]:
    for kinds, status, title in _CLIENT_ERRORS:
        if isinstance(exc, kinds):
            return status, title
    return 500, "Internal error"


def problem_response(status: int, title: str, detail: str) -> bytes:
    """A complete HTTP/1.1 response carrying an RFC 7807 problem; the connection is closed after it."""
    body = json.dumps({"type": "about:blank", "title": title, "status": status, "detail": detail}).encode()
    lines = [
        f"HTTP/1.1 {status} {HTTPStatus(status).phrase}",
        "Connection: close",
        "Content-Type: application/problem+json",
        f"Content-Length: {len(body)}",
        *(f"{name}: {value}" for name, value in SECURITY_HEADERS.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class MaskedLogger(glogging.Logger):  # type: ignore[misc]
    """gunicorn's error and access logs as the app's JSON lines, card numbers masked."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            for handler in log.handlers:
                handler.setFormatter(JsonFormatter())
            if not any(isinstance(f, RedactPans) for f in log.filters):
                log.addFilter(RedactPans())


@functools.lru_cache(maxsize=2)
def _http_date(second: int) -> str:
    return str(util.http_date(second))


class NoBannerResponse(wsgi.Response):  # type: ignore[misc]
    """No `Server:` line; the `Date:` formatted once a second rather than for every response; and a
    response whose whole body comes in one piece (every API answer) goes out in one write with its
    headers: one TLS record and one system call instead of two."""

    def default_headers(self) -> list[str]:
        if self.upgrade:
            connection = "upgrade"
        elif self.should_close():
            connection = "close"
        else:
            connection = "keep-alive"
        major, minor = self.req.version
        lines = [
            f"HTTP/{major}.{minor} {self.status}\r\n",
            f"Date: {_http_date(int(time.time()))}\r\n",
            f"Connection: {connection}\r\n",
        ]
        if self.chunked:
            lines.append("Transfer-Encoding: chunked\r\n")
        return lines

    def write(self, arg: bytes) -> None:
        if (
            self.headers_sent
            or self.chunked
            or self._omits_body
            or not isinstance(arg, bytes)
            or self.response_length != len(arg)
        ):
            super().write(arg)
            return
        lines = self.default_headers()
        lines.extend(f"{name}: {value}\r\n" for name, value in self.headers)
        self.headers_sent = True
        self.sent += len(arg)
        util.write(self.sock, ("".join(lines) + "\r\n").encode("latin-1") + arg)


# How long a worker thread keeps a kept-alive connection after answering it, for its next request,
# before handing it back to the poller. A busy client's next request comes within this, and serving
# it on the same thread saves gthread's two hand-offs per request (thread pool -> main thread's poller
# -> thread pool: a pipe write, epoll registrations and two thread wake-ups), which cost more CPU than
# a small API request. gunicorn's threads already wait like this for a new connection's first bytes.
KEEPALIVE_LINGER = 0.05


# How often a worker that stopped accepting for holding more than its share of the connections looks
# again, when nothing else wakes it (gthread's own loop waits up to a second).
SHARE_RECHECK = 0.02


class ConnectionShare:
    """The number of open connections each worker holds, in memory shared across the fork.

    A kept-alive connection stays with the worker that accepted it, and the kernel hands a new one to
    whichever worker wakes first: left alone, one of three workers could hold half of the clients and
    queue their requests behind its own interpreter lock while another worker idled. With the counts
    shared, a worker holding more than its share stops accepting until the others catch up. Slots are
    handed out and taken back by the arbiter (worker construction and `child_exit` both run there),
    so a worker killed outright leaves no count behind."""

    FREE = -1

    def __init__(self, slots: int) -> None:
        self.counts = multiprocessing.RawArray("l", [self.FREE] * slots)

    def claim(self) -> int | None:
        for slot, count in enumerate(self.counts):
            if count == self.FREE:
                self.counts[slot] = 0
                return slot
        return None  # more workers than slots: the extra ones accept as gthread does

    def release(self, slot: int) -> None:
        self.counts[slot] = self.FREE

    def fair(self) -> int:
        """The most connections a worker may hold and still accept: the counts add up to the total, so
        at least one worker holding a slot is always below it."""
        held = [count for count in self.counts if count != self.FREE]
        return -(-(sum(held) + 1) // max(len(held), 1))


class SettledConfig:
    """A worker's gunicorn settings, each read once. gunicorn's Config answers every attribute through
    `__getattr__` and the setting's `get()`, and serving one request reads dozens of them (about 3.5 %
    of a worker's CPU on a small API request). A worker's settings never change (a reload starts new
    workers), so the first answer is kept."""

    def __init__(self, cfg: Any) -> None:
        self._cfg = cfg

    def __getattr__(self, name: str) -> Any:
        value = getattr(self._cfg, name)
        setattr(self, name, value)
        return value


class ProblemWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, with gunicorn's own error pages replaced by problem JSON that repeats nothing sent,
    a thread that stays with a busy kept-alive connection (see KEEPALIVE_LINGER), and new connections
    spread over the workers (see ConnectionShare)."""

    share: ClassVar[ConnectionShare | None] = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._conns, self._limit = 0, 0
        self._queued: deque[None] = deque()  # a token per connection submitted and not yet picked up
        self.slot = ProblemWorker.share.claim() if ProblemWorker.share else None
        super().__init__(*args, **kwargs)

    @property
    def nr_conns(self) -> int:
        return self._conns

    @nr_conns.setter
    def nr_conns(self, value: int) -> None:
        self._conns = value
        if self.share is not None and self.slot is not None:
            self.share.counts[self.slot] = value

    @property
    def worker_connections(self) -> int:
        """gthread accepts while `nr_conns` is below this."""
        if self.share is None or self.slot is None:
            return self._limit
        return min(self._limit, self.share.fair())

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._limit = value

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        if not self._accepting:  # over its share: look again soon, as other workers' counts change
            timeout = min(timeout, SHARE_RECHECK)
        super().wait_for_and_dispatch_events(timeout)

    def enqueue_req(self, conn: Any) -> None:
        self._queued.append(None)
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        with contextlib.suppress(IndexError):
            self._queued.pop()
        keep = super().handle(conn)
        # Only while no connection waits for a thread and the worker has no more connections than
        # threads: then no connection can be left waiting for a thread that another one holds.
        while (
            keep is True
            and self.alive
            and not self._queued
            and self.nr_conns <= self.cfg.threads
            and _next_request(conn)
        ):
            keep = super().handle(conn)
        return keep

    def finish_request(self, conn: Any, fs: Any) -> None:
        # gthread counts a connection out twice when closing it raises (a failed TLS handshake has
        # already closed the socket): the count then runs low for good, and a worker that believes it
        # has threads to spare lingers while a connection waits (seconds, measured in the bench).
        held = self.nr_conns
        super().finish_request(conn, fs)
        self.nr_conns = max(self.nr_conns, held - 1)

    def init_process(self) -> None:
        wsgi.Response = NoBannerResponse  # wsgi.create() builds every response from this name
        self.cfg = SettledConfig(self.cfg)
        super().init_process()

    def handle_error(self, req: Any, client: Any, addr: Any, exc: BaseException) -> None:
        address = (addr or ("unix", -1))[0]
        if isinstance(exc, ssl.SSLError):  # a failed handshake: there is no HTTP to answer with
            self.log.info("TLS error from %s: %s", address, type(exc).__name__)
            return
        status, title = classify(exc)
        if status == 500:
            self.log.exception("error handling a request from %s", address)
            detail = "the request failed"
        else:
            # The exception's text quotes the offending bytes (which may hold a card number or a
            # credential): only its class is logged, and nothing of it is sent back.
            self.log.warning("refused a malformed request from %s: %s", address, type(exc).__name__)
            detail = "the request could not be parsed as HTTP/1.1"
        try:
            util.write_nonblock(client, problem_response(status, title, detail))
        except OSError:
            self.log.debug("could not send the error response")


def _next_request(conn: Any) -> bool:
    """Whether the connection's next request arrives within KEEPALIVE_LINGER (or is buffered)."""
    if conn.parser.unreader.buf.getbuffer().nbytes or (
        isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()
    ):
        return True
    poller = select.poll()
    poller.register(conn.sock.fileno(), select.POLLIN)
    return bool(poller.poll(KEEPALIVE_LINGER * 1000))


def _child_exit(_arbiter: Any, worker: Any) -> None:
    if ProblemWorker.share is not None and getattr(worker, "slot", None) is not None:
        ProblemWorker.share.release(worker.slot)


def options(workers: int = 1) -> dict[str, Any]:
    """gunicorn settings that put these parts in place. Called in the arbiter before it forks."""
    # Room for a reload's new workers beside the old (gunicorn starts them before stopping the old).
    ProblemWorker.share = ConnectionShare(2 * workers + 2)
    return {"worker_class": ProblemWorker, "logger_class": MaskedLogger, "child_exit": _child_exit}


__all__ = [
    "ConnectionShare",
    "MaskedLogger",
    "NoBannerResponse",
    "ProblemWorker",
    "classify",
    "options",
    "problem_response",
]
