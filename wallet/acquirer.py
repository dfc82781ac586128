"""The card acquirer boundary: the protocol the wallet speaks, the in-process test acquirer, and the
HTTP client for a remote acquirer.

The protocol (served for tests by `wallet acquirer serve`, see `wallet.acquirer_server`):
- `POST /v1/charges` with `Idempotency-Key` -> 201 approved, 402 declined, 200 the same charge again;
- `POST /v1/charges/{id}/void` -> 200 `{"id", "status": "voided"}`;
- `GET /v1/charges?reference=R` -> `{"data": [charges]}`.
A 5xx, a timeout or a dropped connection means the outcome is unknown: `OutcomeUnknown`.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import secrets
import ssl
import threading
from dataclasses import dataclass, replace
from typing import Any, Protocol
from urllib.parse import quote, urlsplit

from wallet.money import AmountError, format_amount, parse_amount

APPROVED, DECLINED, VOIDED = "approved", "declined", "voided"


class OutcomeUnknown(Exception):
    """The acquirer may or may not have done the work (a 5xx, a timeout, a dropped connection)."""


class AcquirerRefused(Exception):
    """The acquirer answered with a client error: the request itself is wrong (never retried as is)."""


@dataclass(frozen=True)
class CardData:
    pan: str
    expiry_month: int
    expiry_year: int

    def __repr__(self) -> str:  # never print the number
        return f"CardData(pan=…{self.pan[-4:]}, {self.expiry_month}/{self.expiry_year})"


@dataclass(frozen=True)
class Charge:
    id: str
    status: str
    amount_minor: int
    currency: str
    reference: str
    reason: str = ""

    @property
    def approved(self) -> bool:
        return self.status == APPROVED

    def to_json(self) -> dict[str, Any]:
        body = {
            "id": self.id,
            "status": self.status,
            "amount": format_amount(self.amount_minor, self.currency),
            "currency": self.currency,
            "reference": self.reference,
        }
        return {**body, "reason": self.reason} if self.reason else body

    @classmethod
    def from_json(cls, body: Any) -> Charge:
        try:
            currency = str(body["currency"])
            return cls(
                id=str(body["id"]),
                status=str(body["status"]),
                amount_minor=parse_amount(body["amount"], currency),
                currency=currency,
                reference=str(body.get("reference", "")),
                reason=str(body.get("reason", "")),
            )
        except (KeyError, TypeError, AmountError) as exc:
            raise OutcomeUnknown(f"the acquirer answered with a malformed charge ({exc})") from None


class Acquirer(Protocol):
    def charge(self, key: str, amount_minor: int, currency: str, card: CardData, reference: str) -> Charge:
        """Charge once per `key`: the same key again answers with the same charge."""
        ...

    def void(self, charge_id: str) -> Charge: ...

    def find(self, reference: str) -> list[Charge]: ...


class TestAcquirer:
    """Approves every charge except for the card numbers in `DECLINED_PANS` or amounts above the limit;
    keeps its charges in memory. `wallet acquirer serve` serves one of these over HTTP."""

    __test__ = False  # not a pytest class

    DECLINED_PANS = frozenset({"4000000000000002"})

    def __init__(self, limit_minor: int = 10_000_000) -> None:
        self.limit_minor = limit_minor
        self._lock = threading.Lock()
        self._by_key: dict[str, Charge] = {}
        self._by_id: dict[str, Charge] = {}
        self._key_of: dict[str, str] = {}

    def decide(self, pan: str, amount_minor: int) -> str:
        if pan in self.DECLINED_PANS:
            return "card declined by issuer"
        if amount_minor > self.limit_minor:
            return "amount exceeds the card's limit"
        return ""

    def charge_once(
        self, key: str, amount_minor: int, currency: str, card: CardData, reference: str
    ) -> tuple[Charge, bool]:
        """The charge for `key` and whether it was made by this call."""
        with self._lock:
            if (known := self._by_key.get(key)) is not None:
                return self._by_id[known.id], False
            reason = self.decide(card.pan, amount_minor)
            made = Charge(
                id=f"ch_{secrets.token_hex(10)}",
                status=DECLINED if reason else APPROVED,
                amount_minor=amount_minor,
                currency=currency,
                reference=reference,
                reason=reason,
            )
            self._by_key[key], self._by_id[made.id], self._key_of[made.id] = made, made, key
            return made, True

    def charge(self, key: str, amount_minor: int, currency: str, card: CardData, reference: str) -> Charge:
        return self.charge_once(key, amount_minor, currency, card, reference)[0]

    def void(self, charge_id: str) -> Charge:
        with self._lock:
            found = self._by_id.get(charge_id)
            if found is None:
                raise AcquirerRefused(f"no charge {charge_id}")
            if found.status == APPROVED:
                found = replace(found, status=VOIDED)
                self._by_id[charge_id] = found
            return found

    def find(self, reference: str) -> list[Charge]:
        with self._lock:
            return [c for c in self._by_id.values() if c.reference == reference]

    def all(self) -> list[Charge]:
        with self._lock:
            return list(self._by_id.values())


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_acquirer_url(url: str) -> str:
    """The URL's problem in one line, or '' if the wallet may use it: HTTPS, or plain HTTP on loopback."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "acquirer_url must be an http:// or https:// URL with a host"
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        return "acquirer_url must use https:// unless the acquirer is on a loopback address"
    return ""


class HttpAcquirer:
    """A remote acquirer over HTTPS (certificates verified) or plain HTTP on loopback only."""

    def __init__(self, url: str, timeout: float = 10.0, context: ssl.SSLContext | None = None) -> None:
        if problem := check_acquirer_url(url):
            raise ValueError(problem)
        parts = urlsplit(url)
        self._https = parts.scheme == "https"
        self._host, self._port = parts.hostname or "", parts.port
        self._base = parts.path.rstrip("/")
        self._timeout = timeout
        self._context = context or ssl.create_default_context()

    def _request(self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(
                self._host, self._port, timeout=self._timeout, context=self._context
            )
        else:
            conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout)
        payload = json.dumps(body).encode() if body is not None else None
        try:
            conn.request(
                method,
                self._base + path,
                payload,
                {"Content-Type": "application/json", "Accept": "application/json", **(headers or {})},
            )
            response = conn.getresponse()
            status, raw = response.status, response.read()
        except ssl.SSLCertVerificationError as exc:
            raise AcquirerRefused(
                f"the acquirer's certificate is not trusted: {exc.verify_message}"
            ) from None
        except (TimeoutError, OSError, http.client.HTTPException) as exc:
            raise OutcomeUnknown(f"no answer from the acquirer ({type(exc).__name__})") from None
        finally:
            conn.close()
        if status >= 500:
            raise OutcomeUnknown(f"the acquirer answered {status}")
        try:
            data = json.loads(raw)
        except ValueError:
            raise OutcomeUnknown(f"the acquirer answered {status} without JSON") from None
        return status, data

    def charge(self, key: str, amount_minor: int, currency: str, card: CardData, reference: str) -> Charge:
        body = {
            "amount": format_amount(amount_minor, currency),
            "currency": currency,
            "card": {"pan": card.pan, "expiry_month": card.expiry_month, "expiry_year": card.expiry_year},
            "reference": reference,
        }
        status, data = self._request("POST", "/v1/charges", body, {"Idempotency-Key": key})
        if status in (200, 201, 402):
            return Charge.from_json(data)
        raise AcquirerRefused(f"the acquirer refused the charge ({status})")

    def void(self, charge_id: str) -> Charge:
        status, data = self._request("POST", f"/v1/charges/{quote(charge_id, safe='')}/void", {})
        if status == 200:
            return Charge.from_json(data)
        raise AcquirerRefused(f"the acquirer refused to void {charge_id} ({status})")

    def find(self, reference: str) -> list[Charge]:
        status, data = self._request("GET", f"/v1/charges?reference={quote(reference, safe='')}")
        if status != 200 or not isinstance(data, dict) or not isinstance(data.get("data"), list):
            raise OutcomeUnknown(f"the acquirer answered {status} to a charge search")
        return [Charge.from_json(item) for item in data["data"]]


def make_acquirer(name: str, url: str = "", timeout: float = 10.0) -> Acquirer:
    if name == "test":
        return TestAcquirer()
    if name == "http":
        if not url:
            raise ValueError("acquirer http needs acquirer_url")
        return HttpAcquirer(url, timeout)
    raise ValueError(f"unknown acquirer {name!r}")
