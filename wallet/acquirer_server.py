"""`wallet acquirer serve`: the test acquirer as an HTTP server speaking the acquirer protocol, with
faults a test can inject: fail before processing (503, nothing charged), fail after processing (the
charge is made, then the connection is dropped without an answer), and slow (the charge is made, the
answer comes `delay` seconds later, past a client's timeout).

Faults are set at start-up (`--fail-before P --fail-after P --slow P --delay S`) or at any time with
`POST /_admin/faults` `{"fail_before": P, "fail_after": P, "slow": P, "delay": S}` (probabilities from
0 to 1). `GET /_admin/charges` lists every charge, for tests comparing money charged with money
credited. It is a test double: it listens on loopback by default and keeps charges in memory.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from dataclasses import asdict, dataclass, fields
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from wallet.acquirer import AcquirerRefused, CardData, TestAcquirer
from wallet.money import AmountError, check_currency, parse_amount

_VOID = re.compile(r"/v1/charges/([A-Za-z0-9_]{1,64})/void")
_KEY = re.compile(r"[A-Za-z0-9_.:-]{1,200}")


@dataclass
class Faults:
    fail_before: float = 0.0
    fail_after: float = 0.0
    slow: float = 0.0
    delay: float = 5.0

    def update(self, values: dict[str, Any]) -> None:
        known = {f.name for f in fields(self)}
        if not isinstance(values, dict) or set(values) - known:
            raise ValueError(f"faults are {', '.join(sorted(known))}")
        for name, value in values.items():
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a non-negative number")
            if name != "delay" and value > 1:
                raise ValueError(f"{name} is a probability from 0 to 1")
            setattr(self, name, float(value))


class _Dropped(Exception):
    """Fail after processing: close the connection without an answer."""


class AcquirerServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str = "127.0.0.1", port: int = 0, faults: Faults | None = None) -> None:
        super().__init__((host, port), _Handler)
        self.acquirer = TestAcquirer()
        self.faults = faults or Faults()
        self.rng = random.Random()  # noqa: S311 - picks injected faults, not secrets
        self.rng_lock = threading.Lock()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host}:{port}"

    def roll(self, probability: float) -> bool:
        with self.rng_lock:
            return probability > 0 and self.rng.random() < probability

    def start(self) -> AcquirerServer:
        """Serve on a daemon thread (tests); `shutdown()` stops it."""
        threading.Thread(target=self.serve_forever, name="acquirer", daemon=True).start()
        return self


class _Handler(BaseHTTPRequestHandler):
    server: AcquirerServer
    protocol_version = "HTTP/1.1"
    server_version = "acquirer"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass  # request lines carry no card data, but a test double needs no access log

    def _send(self, status: int, body: Any) -> None:
        raw = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        if not 0 <= length <= 65536:
            raise ValueError("body too large")
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError:
            raise ValueError("body is not JSON") from None

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/v1/charges":
            refs = parse_qs(url.query).get("reference", [])
            if len(refs) != 1:
                return self._send(400, {"error": "give exactly one reference"})
            found = self.server.acquirer.find(refs[0])
            return self._send(200, {"data": [c.to_json() for c in found]})
        if url.path == "/_admin/charges":
            return self._send(200, {"data": [c.to_json() for c in self.server.acquirer.all()]})
        if url.path == "/_admin/faults":
            return self._send(200, asdict(self.server.faults))
        return self._send(404, {"error": "no such route"})

    def do_POST(self) -> None:
        path = urlsplit(self.path).path
        try:
            body = self._body()
            if path == "/v1/charges":
                return self._charge(body)
            if (match := _VOID.fullmatch(path)) is not None:
                return self._void(match.group(1))
            if path == "/_admin/faults":
                self.server.faults.update(body)
                return self._send(200, asdict(self.server.faults))
            return self._send(404, {"error": "no such route"})
        except ValueError as exc:
            return self._send(400, {"error": str(exc)})
        except _Dropped:
            self.close_connection = True
            self.connection.close()

    def _charge(self, body: Any) -> None:
        key = self.headers.get("Idempotency-Key", "")
        if not _KEY.fullmatch(key):
            raise ValueError("an Idempotency-Key header is required")
        faults = self.server.faults
        if self.server.roll(faults.fail_before):
            return self._send(503, {"error": "injected failure before processing"})
        try:
            currency = check_currency(body["currency"])
            amount = parse_amount(body["amount"], currency)
            card = body["card"]
            data = CardData(str(card["pan"]), int(card["expiry_month"]), int(card["expiry_year"]))
            reference = str(body.get("reference", ""))
        except (KeyError, TypeError, AmountError) as exc:
            raise ValueError(f"malformed charge: {type(exc).__name__}") from None
        charge, made = self.server.acquirer.charge_once(key, amount, currency, data, reference)
        if self.server.roll(faults.fail_after):
            raise _Dropped
        if self.server.roll(faults.slow):
            time.sleep(faults.delay)
        status = 200 if not made else (201 if charge.approved else 402)
        return self._send(status, charge.to_json())

    def _void(self, charge_id: str) -> None:
        try:
            charge = self.server.acquirer.void(charge_id)
        except AcquirerRefused:
            return self._send(404, {"error": "no such charge"})
        return self._send(200, charge.to_json())


def serve(host: str, port: int, faults: Faults) -> None:  # pragma: no cover - runs until killed
    server = AcquirerServer(host, port, faults)
    try:
        server.serve_forever()
    finally:
        server.server_close()
