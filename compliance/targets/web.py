"""The web target: a live HTTPS API (the deployed wallet or any other), probed from the outside."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import urlencode, urljoin, urlsplit

from compliance.collect.record import EvidenceRecord
from compliance.errors import UsageError
from compliance.targets import Collected, Progress

DEFAULT_MAX_REQUESTS = 400


def check_url(url: str) -> str:
    """The base URL without a trailing slash; a usage error for anything that is not http(s)://host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise UsageError(f"--url {url!r} is not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(f"--url {url!r} must be an http:// or https:// URL with a host")
    if parts.query or parts.fragment:
        raise UsageError(f"--url {url!r} must not carry a query or fragment")
    return url.rstrip("/")


@dataclass
class WebTarget:
    name: ClassVar[str] = "web"

    url: str
    openapi: str | None = None
    credentials: Path | None = None
    allow_write: bool = False
    probe_rate_limit: bool = False
    max_requests: int = DEFAULT_MAX_REQUESTS
    timeout: float = 10.0
    concurrency: int = 4
    insecure: bool = False
    ca_file: Path | None = None
    rate_limit_burst: int = 30
    _state: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.url = check_url(self.url)
        if self.max_requests < 1:
            raise UsageError("--max-requests must be at least 1")
        if self.ca_file is not None and not self.ca_file.is_file():
            raise UsageError(f"--ca-file {self.ca_file} not found")

    @property
    def origin(self) -> str:
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc}"

    def connect(self) -> None:
        """Read the credentials file and the OpenAPI document, reach the API, and obtain each client's
        token: all before any probe, so a wrong path, URL or secret is a one-line usage error."""
        from compliance.collect.web.credentials import load_clients
        from compliance.collect.web.http import Budget, HttpProber, Probe
        from compliance.collect.web.openapi import decode, read_file

        clients = load_clients(self.credentials) if self.credentials else []
        budget = Budget(self.max_requests)
        prober = HttpProber(self.origin, budget=budget, timeout=self.timeout, concurrency=self.concurrency,
                            verify=not self.insecure, ca_file=str(self.ca_file) if self.ca_file else None)
        records: list[EvidenceRecord] = []

        def get(url: str, probe: str) -> tuple[EvidenceRecord, str]:
            rec, body = prober.exchange(Probe(probe, f"GET {urlsplit(url).path or '/'}", "GET", url,
                                              {"Accept": "application/json, application/yaml"}))
            records.append(rec)
            if not rec.ok:
                hint = ("; pass --ca-file FILE (or --insecure) to probe it anyway: the certificate is "
                        "assessed on its own" if rec.error_code == "TLSError" else "")
                raise UsageError(f"cannot reach {url}: {rec.error_code}: {rec.error_message}{hint}")
            return rec, body

        source = self.openapi or f"{self.url}/openapi.json"
        if self.openapi and not self.openapi.startswith(("http://", "https://")):
            document = read_file(Path(self.openapi))
            get(self.url + "/", "reachability")
        else:
            rec, body = get(source, "discovery")
            status = rec.response["status"]
            if status != 200:
                raise UsageError(f"{source} answered HTTP {status}: give the document with --openapi")
            document = decode(body, source)
        self._state = {"prober": prober, "budget": budget, "document": document, "source": source,
                       "records": records, "sessions": self._tokens(prober, clients, records)}

    def _tokens(self, prober: Any, clients: list[Any], records: list[EvidenceRecord]) -> list[Any]:
        from compliance.collect.web.collector import USER_AGENT, Session
        from compliance.collect.web.http import Probe
        from compliance.redact import remember

        sessions = []
        for client in clients:
            if client.bearer:
                sessions.append(Session(client, client.bearer))
                continue
            url = urljoin(self.url + "/", client.token_url)
            basic = base64.b64encode(f"{client.client_id}:{client.client_secret}".encode()).decode()
            headers = {"User-Agent": USER_AGENT, "Authorization": f"Basic {basic}",
                       "Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"}
            if client.host:
                headers["Host"] = client.host
            form = {"grant_type": "client_credentials", **({"scope": client.scope} if client.scope else {})}
            rec, body = prober.exchange(Probe("token", f"POST {urlsplit(url).path}", "POST", url, headers,
                                              urlencode(form).encode(), client.name))
            records.append(rec)
            token = _access_token(body) if rec.ok and rec.response["status"] == 200 else None
            if token is None:
                why = f"{rec.error_code}: {rec.error_message}" if not rec.ok else \
                    f"HTTP {rec.response['status']}"
                raise UsageError(f"credentials: client {client.name!r} could not obtain a token from "
                                 f"{url} ({why})")
            remember(token)
            sessions.append(Session(client, token))
        return sessions

    def collect(self, progress: Progress | None = None) -> Collected:
        from compliance.collect.web.collector import WebCollection, WebSettings
        from compliance.collect.web.tls import scan_tls

        if not self._state:
            self.connect()
        state = self._state
        parts = urlsplit(self.url)
        collection = WebCollection(
            WebSettings(self.url, self.allow_write, self.probe_rate_limit, self.rate_limit_burst,
                        self.timeout),
            state["prober"], state["document"], state["sessions"], progress=progress)
        for rec in state["records"]:
            collection.add(rec)
        collection.add(_document_record(self.origin, state["source"], state["document"]))
        collection.transport(lambda: scan_tls(self.origin, parts.hostname or "", parts.port or 443,
                                              timeout=self.timeout, ca_file=self.ca_file))
        collection.authentication()
        collection.authenticated()
        collection.malformed()
        collection.cors()
        collection.isolation()
        collection.rate_limit()
        state["prober"].close()
        skipped = [op.key for op in collection.operations if op.writes and not self.allow_write]
        scope = {"url": self.url, "origin": self.origin, "openapi": state["source"],
                 "operations": len(collection.operations), "read_only": not self.allow_write,
                 "not_probed": skipped, "clients": [s.client.name for s in state["sessions"]],
                 "max_requests": self.max_requests, "requests_sent": state["budget"].used}
        options = {"web_allow_write": self.allow_write, "web_probe_rate_limit": self.probe_rate_limit,
                   "web_rate_limit_burst": self.rate_limit_burst}
        identity = {"clients": [s.client.name for s in state["sessions"]],
                    "user_agent": "comply web probe"}
        return Collected(scope, identity, collection.evidence, options)

    def inventory(self, collected: Collected) -> Any:
        from controls.web.inventory import WebInventory

        scope = collected.scope
        return WebInventory(scope["url"], collected.evidence, options=collected.options)


def _access_token(body: str) -> str | None:
    try:
        token = json.loads(body).get("access_token")
    except (ValueError, AttributeError):
        return None
    return token if isinstance(token, str) and token else None


def _document_record(origin: str, source: str, document: dict[str, Any]) -> EvidenceRecord:
    from compliance.collect.record import Outcome, utcnow

    return EvidenceRecord("web", "openapi", "document", origin, {"source": source}, utcnow(), Outcome.OK,
                          response=document)
