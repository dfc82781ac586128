"""The web collection: which probes a scan sends, in which order, and with what credentials.

Phases run in order so that what matters most is sent first when the request budget is small:
transport (TLS and plain HTTP), then each operation without and with bad credentials, then with
each client's credentials, then malformed input and CORS, then tenant isolation, then the rate
limit burst (only when allowed). Write methods are probed only with `allow_write`.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import jwt

from compliance import __version__
from compliance.collect.record import EvidenceRecord
from compliance.collect.web.credentials import Client
from compliance.collect.web.http import HttpProber, Probe
from compliance.collect.web.openapi import Operation, parse, token_urls
from compliance.collect.web.samples import (
    MALFORMED_PATH,
    MALFORMED_QUERY,
    collection_name,
    collection_of,
    fill_path,
    ids_in,
    nested_json,
    required_query,
    sample_value,
)

USER_AGENT = f"comply/{__version__} (compliance scan)"
PROBE_ORIGIN = "https://comply-probe.invalid"
CROSS_TENANT_IDS = 2
"""Objects of each tenant that each other tenant tries to read, per collection."""


@dataclass
class WebSettings:
    base_url: str
    allow_write: bool = False
    probe_rate_limit: bool = False
    rate_limit_burst: int = 30
    timeout: float = 10.0


@dataclass
class Session:
    """A client with the access token it obtained while connecting."""

    client: Client
    token: str

    def headers(self) -> dict[str, str]:
        out = {"Authorization": f"Bearer {self.token}"}
        if self.client.host:
            out["Host"] = self.client.host
        return out


@dataclass
class WebCollection:
    settings: WebSettings
    prober: HttpProber
    document: dict[str, Any]
    sessions: list[Session] = field(default_factory=list)
    evidence: list[EvidenceRecord] = field(default_factory=list)
    progress: Callable[[int, int], None] | None = None
    _done: int = 0
    _planned: int = 0

    @property
    def operations(self) -> list[Operation]:
        return parse(self.document)

    def in_scope(self) -> list[Operation]:
        return [op for op in self.operations if self.settings.allow_write or not op.writes]

    def url(self, path: str, query: dict[str, str] | None = None) -> str:
        return self.settings.base_url.rstrip("/") + path + (f"?{urlencode(query)}" if query else "")

    # -- sending ---------------------------------------------------------------------------------

    def _tick(self) -> None:
        self._done += 1
        if self.progress is not None:
            self.progress(self._done, max(self._planned, self._done))

    def send(self, probes: list[Probe]) -> list[EvidenceRecord]:
        self._planned += len(probes)
        records = self.prober.send_all(probes, self._tick)
        self.evidence.extend(records)
        return records

    def add(self, record: EvidenceRecord) -> None:
        self._planned += 1
        self.evidence.append(record)
        self._tick()

    # -- probes ----------------------------------------------------------------------------------

    def request(self, op: Operation, probe: str, *, headers: dict[str, str] | None = None,
                path_values: dict[str, str] | None = None, query: dict[str, str] | None = None,
                body: bytes | None = None, content_type: str | None = None, client: str | None = None,
                note: str | None = None, path: str | None = None, **extra: Any) -> Probe:
        sent = {"User-Agent": USER_AGENT, "Accept": "application/json", **(headers or {})}
        if op.writes and body is None and probe != "malformed-body":
            body, content_type = sample_body(op)
        if content_type:
            sent["Content-Type"] = content_type
        target = path if path is not None else fill_path(op, path_values)
        url = self.url(target, {**required_query(op), **(query or {})})
        return Probe(probe, op.key, op.method.upper(), url, sent, body, client, note, extra)

    def transport(self, run_tls: Callable[[], EvidenceRecord]) -> None:
        parts = urlsplit(self.settings.base_url)
        if parts.scheme == "https":
            self.add(run_tls())
            port = parts.port or 443
            plain = [f"http://{parts.hostname}:{port}/"]
            if port == 443:
                plain.append(f"http://{parts.hostname}/")
        else:
            plain = [self.settings.base_url.rstrip("/") + "/"]
        self.send([Probe("plain-http", "transport", "GET", url, {"User-Agent": USER_AGENT})
                    for url in plain])

    def authentication(self) -> None:
        now = dt.datetime.now(dt.UTC)
        expired = jwt.encode({"sub": "comply-probe", "iat": now - dt.timedelta(hours=2),
                              "exp": now - dt.timedelta(hours=1)}, secrets.token_hex(32), algorithm="HS256")
        unsigned = _unsigned_jwt({"sub": "comply-probe", "exp": int((now + dt.timedelta(hours=1))
                                                                        .timestamp())})
        probes: list[Probe] = []
        for op in self.in_scope():
            probes.append(self.request(op, "anonymous"))
            if op.secured:
                for name, token in (("invalid-token", "comply-invalid-token"),
                                    ("expired-token", expired), ("unsigned-token", unsigned)):
                    probes.append(self.request(op, name, headers={"Authorization": f"Bearer {token}"}))
        self.send(probes)

    def authenticated(self) -> None:
        probes: list[Probe] = []
        for n, session in enumerate(self.sessions):
            for op in self.in_scope():
                if op.writes or (n > 0 and op.path_params()):
                    continue  # writes are made on purpose below; other tenants list, the first reads all
                probes.append(self.request(op, "authenticated", headers=session.headers(),
                                           client=session.client.name))
        self.send(probes)

    def malformed(self) -> None:
        auth = self.sessions[0].headers() if self.sessions else {}
        client = self.sessions[0].client.name if self.sessions else None
        probes: list[Probe] = []
        for op in self.in_scope():
            for param in op.path_params()[:1]:
                for label, value in MALFORMED_PATH:
                    probes.append(self.request(op, "malformed-path", headers=auth, client=client,
                                               path_values={param.name: value},
                                               note=f"{param.name} = {label}"))
            queries = [p for p in op.parameters if p.location == "query"]
            for label, value in MALFORMED_QUERY if queries else ():
                probes.append(self.request(op, "malformed-query", headers=auth, client=client,
                                           query={p.name: value for p in queries},
                                           note=f"every query parameter = {label}"))
            if op.writes:
                for label, body, media in (
                        ("truncated JSON", b'{"a": ', "application/json"),
                        ("a JSON array instead of an object", b"[1, 2, 3]", "application/json"),
                        (f"JSON nested {len(nested_json()) // 2} deep", nested_json(), "application/json"),
                        ("a NUL character in every string", json.dumps(
                            _with_nul(sample_value(op.body_schema))).encode(), "application/json"),
                        ("a body that is not JSON", b"\xff\xfe<not json>", "text/plain")):
                    probes.append(self.request(op, "malformed-body", headers=auth, client=client, body=body,
                                               content_type=media, note=label))
        self.send(probes)

    def cors(self) -> None:
        auth = self.sessions[0].headers() if self.sessions else {}
        reads = [op for op in self.in_scope() if op.method == "get"]
        probes = [self.request(op, "cors", headers={**auth, "Origin": PROBE_ORIGIN}) for op in reads[:3]]
        secured = next((op for op in reads if op.secured), None)
        if secured is not None:
            probes.append(Probe("cors-preflight", secured.key, "OPTIONS", self.url(fill_path(secured)), {
                "User-Agent": USER_AGENT, "Origin": PROBE_ORIGIN, "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization"}))
        self.send(probes)

    def isolation(self) -> None:
        if len(self.sessions) < 2:
            return
        owned = self.objects()
        probes: list[Probe] = []
        for op in self.in_scope():
            where = collection_of(op)
            if op.writes or where is None:
                continue
            collection, param = where
            for owner in self.sessions:
                mine = owned.get(owner.client.name, {}).get(collection_name(collection), [])
                for object_id in mine[:CROSS_TENANT_IDS]:
                    for reader in self.sessions:
                        if reader is owner:
                            continue
                        probes.append(self.request(
                            op, "cross-tenant", headers=reader.headers(), client=reader.client.name,
                            path_values={param: object_id}, note=f"{owner.client.name}'s object",
                            owner=owner.client.name, object_id=object_id))
        self.send(probes)

    def objects(self) -> dict[str, dict[str, list[str]]]:
        """Ids each client can see, by collection name (a path's last fixed segment, so the top-ups made
        under /v1/wallets/{id}/topups are the ones read at /v1/topups/{id}): from its listings, and,
        with writes allowed, from objects it creates now, top-level first, then those nested under
        its own objects (their `*_id` body fields filled with its own ids)."""
        if self.settings.allow_write:
            posts = [op for op in self.in_scope()
                     if op.method == "post" and op.body_type == "application/json"]
            self.send([self.request(op, "create", headers=s.headers(), client=s.client.name)
                       for s in self.sessions for op in posts if not op.path_params()])
            owned = self._owned()
            nested = []
            for session in self.sessions:
                mine = owned.get(session.client.name, {})
                for op in posts:
                    where = collection_of(op)
                    parents = mine.get(collection_name(where[0]), []) if where else []
                    if where is None or not parents or len(op.path_params()) > 1:
                        continue
                    body = sample_value(op.body_schema) if op.body_schema else {}
                    if isinstance(body, dict):
                        for key in body:
                            if key.endswith("_id") and (ids := mine.get(key[:-3] + "s")):
                                body[key] = ids[0]
                    nested.append(self.request(
                        op, "create", headers=session.headers(), client=session.client.name,
                        path_values={where[1]: parents[0]}, body=json.dumps(body).encode(),
                        content_type="application/json"))
            self.send(nested)
        return self._owned()

    def _owned(self) -> dict[str, dict[str, list[str]]]:
        owned: dict[str, dict[str, list[str]]] = {}
        for rec in self.evidence:
            if rec.service != "http" or not rec.ok or \
                    rec.params.get("probe") not in ("authenticated", "create"):
                continue
            path = rec.operation.partition(" ")[2]
            one_object = rec.params["probe"] == "authenticated" and "{" in path
            if one_object or not 200 <= rec.response["status"] < 300 or rec.response.get("truncated"):
                continue
            found = owned.setdefault(rec.params["client"], {}).setdefault(collection_name(path), [])
            found.extend(i for i in ids_in(rec.response["body"]) if i not in found)
        return owned

    def rate_limit(self) -> None:
        if not (self.settings.allow_write or self.settings.probe_rate_limit):
            return
        base = self.settings.base_url
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(base))
        urls = [u for u in token_urls(self.document, base.rstrip("/") + "/") if u.startswith(origin)]
        urls += [s.client.token_url for s in self.sessions if s.client.token_url
                 and s.client.token_url.startswith(origin) and s.client.token_url not in urls]
        wrong = "Basic " + base64.b64encode(b"comply-probe:not-the-secret").decode()
        for url in urls:
            for attempt in range(1, self.settings.rate_limit_burst + 1):
                probe = Probe("rate-limit", f"POST {urlsplit(url).path}", "POST", url,
                              {"User-Agent": USER_AGENT, "Authorization": wrong,
                               "Content-Type": "application/x-www-form-urlencoded"},
                              b"grant_type=client_credentials", note=f"attempt {attempt}",
                              extra={"attempt": attempt})
                rec = self.send([probe])[0]
                if not rec.ok or rec.response["status"] == 429:
                    break


def sample_body(op: Operation) -> tuple[bytes, str]:
    """A body the operation's schema accepts, in the media type it declares (JSON or a form)."""
    value = sample_value(op.body_schema) if op.body_schema else {}
    if op.body_type == "application/x-www-form-urlencoded" and isinstance(value, dict):
        return urlencode({k: str(v) for k, v in value.items()}).encode(), op.body_type
    return json.dumps(value).encode(), "application/json"


def _unsigned_jwt(claims: dict[str, Any]) -> str:
    def part(data: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def _with_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value + "\x00"
    if isinstance(value, dict):
        return {k: _with_nul(v) for k, v in value.items()}
    return value
