"""Live collection: each kind listed once per scan through the official client, page by page.

Every HTTP answer (each page of a list) becomes an evidence record holding the raw JSON, so the
evidence shows exactly what the API server said. A refused, expired or unreachable call becomes an
ERROR record with the server's reason, never a silent gap.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from compliance.collect.kubernetes.redact import redact
from compliance.collect.kubernetes.spec import KINDS, Kind
from compliance.collect.record import EvidenceRecord, Outcome, jsonable, utcnow
from compliance.errors import UsageError

SOURCE = "kubernetes"
PAGE_SIZE = 250
MAX_PAGES = 10_000
Progress = Callable[[int, int], None]
UNREACHABLE = (
    ("Connection refused", "connection refused"),
    ("timed out", "timed out"),
    ("Name or service not known", "unknown host"),
    ("Temporary failure in name resolution", "unknown host"),
    ("No route to host", "no route to host"),
    ("SSLError", "TLS handshake failed"),
    ("Max retries exceeded", "connection failed"),
)


@dataclass
class Cluster:
    """A connection to one cluster, or the reason none could be made (expired credentials, ...)."""

    api_client: Any
    server: str
    context: str | None
    user: str | None
    failure: tuple[str, str] | None = None
    """(code, message) when the client could not be configured: every call is then recorded as failed."""
    identity: dict[str, Any] = field(default_factory=dict)


def default_kubeconfig() -> Path:
    first = (os.environ.get("KUBECONFIG") or "").split(os.pathsep)[0]
    return Path(first).expanduser() if first else Path.home() / ".kube" / "config"


def in_cluster() -> bool:
    return bool(os.environ.get("KUBERNETES_SERVICE_HOST")) and Path(
        "/var/run/secrets/kubernetes.io/serviceaccount/token").is_file()


def connect(kubeconfig: Path | None = None, context: str | None = None, timeout: float = 30.0) -> Cluster:
    """Configure the client from a kubeconfig (or the pod's service account when run in a cluster).

    A missing kubeconfig or an unknown context is bad input (exit 2, before any call); credentials
    the client cannot load (an expired token's refresh, a failing exec plugin) are recorded as failed
    collection so the scan reports them as ERROR findings.
    """
    from kubernetes import client, config

    cfg = client.Configuration()
    cfg.retries = 1
    if kubeconfig is None and context is None and in_cluster():
        config.load_incluster_config(client_configuration=cfg)
        return _cluster(client, cfg, "in-cluster", "serviceaccount")
    path = kubeconfig or default_kubeconfig()
    if not path.is_file():
        raise UsageError(f"kubeconfig {path} not found (use --kubeconfig, KUBECONFIG or --manifests)")
    try:
        contexts, active = config.list_kube_config_contexts(config_file=str(path))
    except (config.ConfigException, ValueError, TypeError, OSError) as exc:
        raise UsageError(f"kubeconfig {path}: {_first_line(exc)}") from None
    names = [c.get("name") for c in contexts or []]
    if context is not None and context not in names:
        known = ", ".join(map(str, names)) or "none"
        raise UsageError(f"context {context!r} is not in {path} (it has: {known})")
    chosen = (next((c for c in contexts if c.get("name") == context), active) if context else active) or {}
    name, user = chosen.get("name"), (chosen.get("context") or {}).get("user")
    try:
        config.load_kube_config(config_file=str(path), context=context, client_configuration=cfg,
                                persist_config=False)
    except Exception as exc:  # an unusable credential is a collection failure, reported per kind
        return Cluster(None, "", name, user, failure=(type(exc).__name__, _first_line(exc)),
                       identity={"context": name, "user": user, "kubeconfig": str(path)})
    cluster = _cluster(client, cfg, name, user)
    cluster.identity["kubeconfig"] = str(path)
    cluster.identity["timeout"] = timeout
    return cluster


def _cluster(client: Any, cfg: Any, context: str | None, user: str | None) -> Cluster:
    api_client = client.ApiClient(cfg)
    return Cluster(api_client, cfg.host, context, user,
                   identity={"server": cfg.host, "context": context, "user": user})


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _api_error(exc: Any) -> tuple[str, str, str | None]:
    """The reason and message of a failed call, from the server's Status body when it sent one."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(exc, ApiException):
        status: dict[str, Any] = {}
        try:
            status = json.loads(exc.body or "{}")
        except (TypeError, ValueError):
            status = {}
        if not isinstance(status, dict):
            status = {}
        headers = exc.headers or {}
        code = str(status.get("reason") or exc.reason or "ApiError")
        message = str(status.get("message") or exc.reason or "")
        return f"{code} ({exc.status})", message.splitlines()[0] if message else "", headers.get("Audit-Id")
    text = _first_line(exc)
    for symptom, why in UNREACHABLE:
        if symptom in text:
            return "Unreachable", f"the API server could not be reached ({why})", None
    return type(exc).__name__, text, None


@dataclass(frozen=True)
class Listing:
    kind: Kind
    namespace: str | None


def plan(namespaces: Iterable[str] = ()) -> list[Listing]:
    """One listing per kind: cluster-wide, or once per chosen namespace for namespaced kinds."""
    chosen = list(dict.fromkeys(namespaces))
    out: list[Listing] = []
    for kind in KINDS:
        if chosen and (kind.namespaced or kind.kind == "Namespace"):
            out.extend(Listing(kind, ns) for ns in chosen)
        else:
            out.append(Listing(kind, None))
    return out


def list_kind(cluster: Cluster, listing: Listing, page_size: int = PAGE_SIZE,
              timeout: float = 30.0) -> list[EvidenceRecord]:
    """Every page of one listing (`limit`/`continue`), each page one record; stops at the first error."""
    kind, namespace = listing.kind, listing.namespace
    named_namespace = kind.kind == "Namespace" and namespace is not None
    operation = "get" if named_namespace else "list"
    records: list[EvidenceRecord] = []
    token: str | None = None
    for page in range(1, MAX_PAGES + 1):
        params: dict[str, Any] = {} if named_namespace else {"limit": page_size, "page": page}
        if named_namespace:
            params["name"] = namespace
        if token:
            params["continue"] = token
        started = utcnow()

        def record(outcome: Outcome, params: dict[str, Any] = params, started: str = started,
                   **fields: Any) -> EvidenceRecord:
            return EvidenceRecord(SOURCE, kind.kind, operation, namespace, params, started, outcome, **fields)

        if cluster.failure is not None:
            code, message = cluster.failure
            return [record(Outcome.ERROR, error_code=code, error_message=message)]
        try:
            body, request_id = _call(cluster, kind, namespace, named_namespace, page_size, token, timeout)
        except Exception as exc:  # every failure is evidence; none may abort the scan
            code, message, request_id = _api_error(exc)
            records.append(record(Outcome.ERROR, request_id=request_id, error_code=code,
                                  error_message=message))
            return records
        records.append(record(Outcome.OK, response=jsonable(redact(body)), request_id=request_id))
        token = ((body.get("metadata") or {}).get("continue") or None) if not named_namespace else None
        if not token:
            return records
    records.append(record(Outcome.ERROR, error_code="TooManyPages",
                          error_message=f"more than {MAX_PAGES} pages of {kind.kind}; listing abandoned"))
    return records


def _call(cluster: Cluster, kind: Kind, namespace: str | None, named_namespace: bool, page_size: int,
          token: str | None, timeout: float) -> tuple[dict[str, Any], str | None]:
    from kubernetes import client

    api = getattr(client, kind.api)(cluster.api_client)
    if named_namespace:
        response = api.read_namespace(namespace, _preload_content=False, _request_timeout=timeout)
    else:
        method, args = kind.list_method(namespace)
        response = getattr(api, method)(**args, limit=page_size, _continue=token, _preload_content=False,
                                        _request_timeout=timeout)
    body = json.loads(response.data)
    if not isinstance(body, dict):
        raise ValueError(f"{kind.kind}: the API server answered with {type(body).__name__}, not an object")
    headers = getattr(response, "headers", None) or {}
    return body, headers.get("Audit-Id")


def collect_cluster(cluster: Cluster, namespaces: Iterable[str] = (), *, workers: int = 8,
                    page_size: int = PAGE_SIZE, timeout: float = 30.0,
                    progress: Progress | None = None) -> list[EvidenceRecord]:
    listings = plan(namespaces)
    records: list[EvidenceRecord] = []
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="k8s-collect") as pool:
        futures = [pool.submit(list_kind, cluster, listing, page_size, timeout) for listing in listings]
        for done, future in enumerate(futures, 1):
            records.extend(future.result())
            if progress is not None:
                progress(done, len(futures))
    return sorted(records, key=lambda r: r.id)
