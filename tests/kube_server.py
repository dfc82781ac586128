"""An in-memory Kubernetes API server on 127.0.0.1 for the live-collection tests.

kmock's emulator stores the objects and answers the client's HTTP; this subclass adds what a scan
needs from a real API server and kmock leaves out: `limit`/`continue` pagination, bearer-token
authentication (401 for an expired token) and per-resource RBAC refusals (403). kmock 0.8 cannot parse
the path of the `namespaces` resource itself (``/api/v1/namespaces``), so Namespace objects are
served here directly. It runs on its own event loop in a thread, so the synchronous client and the
CLI talk to it over real HTTP.
"""

from __future__ import annotations

import asyncio
import base64
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal.k8s import KubernetesError  # kmock renders it as a Kubernetes Status

PLURALS = {
    "Namespace": "namespaces", "Pod": "pods", "ServiceAccount": "serviceaccounts",
    "Deployment": "deployments", "StatefulSet": "statefulsets", "DaemonSet": "daemonsets",
    "ReplicaSet": "replicasets", "Job": "jobs", "CronJob": "cronjobs", "NetworkPolicy": "networkpolicies",
    "Role": "roles", "RoleBinding": "rolebindings", "ClusterRole": "clusterroles",
    "ClusterRoleBinding": "clusterrolebindings", "ConfigMap": "configmaps", "Service": "services",
}
GROUPS = {"apps/v1": ("apps", "v1"), "batch/v1": ("batch", "v1"), "v1": ("", "v1"),
          "networking.k8s.io/v1": ("networking.k8s.io", "v1"),
          "rbac.authorization.k8s.io/v1": ("rbac.authorization.k8s.io", "v1")}
RESOURCES = {"namespaces": "v1", "pods": "v1", "serviceaccounts": "v1", "deployments": "apps/v1",
             "statefulsets": "apps/v1", "daemonsets": "apps/v1", "replicasets": "apps/v1", "jobs": "batch/v1",
             "cronjobs": "batch/v1", "networkpolicies": "networking.k8s.io/v1",
             "roles": "rbac.authorization.k8s.io/v1", "rolebindings": "rbac.authorization.k8s.io/v1",
             "clusterroles": "rbac.authorization.k8s.io/v1",
             "clusterrolebindings": "rbac.authorization.k8s.io/v1"}
TOKEN = "scanner-token"
"""A made-up token the emulator accepts; anything else is answered 401."""


@attrs.define(kw_only=True)
class ScanEmulator(kmock.KubernetesEmulator):
    token: str = TOKEN
    forbidden: set[str] = attrs.field(factory=set)
    """Plural resource names whose listing answers 403."""
    lists: list[tuple[str, str | None, dict[str, str]]] = attrs.field(factory=list)
    namespaces: dict[str, dict[str, Any]] = attrs.field(factory=dict)

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        parts = raw_request.path.strip("/").split("/")
        if parts[:3] != ["api", "v1", "namespaces"] or len(parts) > 4:
            return await super().__call__(raw_request)
        try:
            return aiohttp.web.json_response(self._serve_namespaces(raw_request, parts[3:]))
        except KubernetesError as exc:
            return await self._render_error(exc)

    def _serve_namespaces(self, raw_request: Any, name: list[str]) -> dict[str, Any]:
        self._authorize(raw_request.headers, "namespaces", "")
        if name:
            if name[0] not in self.namespaces:
                raise KubernetesError(status=404, reason="NotFound", details={},
                                      message=f'namespaces "{name[0]}" not found')
            return self.namespaces[name[0]]
        params = dict(raw_request.query)
        self.lists.append(("namespaces", None, params))
        return paginate([obj for _, obj in sorted(self.namespaces.items())], params)

    def _authorize(self, headers: Any, plural: str, group: str) -> None:
        if headers.get("Authorization") != f"Bearer {self.token}":
            raise KubernetesError(status=401, reason="Unauthorized", message="Unauthorized", details={})
        if plural in self.forbidden:
            dotted = f".{group}" if group else ""
            raise KubernetesError(status=403, reason="Forbidden", details={},
                                  message=f'{plural}{dotted} is forbidden: User "scanner" cannot list '
                                  f'resource "{plural}" in API group "{group}" at the cluster scope')

    async def _handle(self, request: Any) -> Any:
        if request.resource is not None:
            self._authorize(request.headers, request.resource.plural, request.resource.group)
        return await super()._handle(request)

    async def _serve_list(self, request: Any) -> Any:
        params = dict(request.params)
        self.lists.append((request.resource.plural, request.namespace, params))
        items = sorted(
            ((ns or "", name, obj.raw) for (res, ns, name), obj in self._objects.items()
             if res == request.resource and not obj.deleted
             and (request.namespace is None or ns == request.namespace)),
            key=lambda t: (t[0], t[1]))
        return paginate([raw for _, _, raw in items], params)


def paginate(items: list[dict[str, Any]], params: dict[str, str]) -> dict[str, Any]:
    """One page of a list, as the API server cuts it with `limit` and resumes it with `continue`."""
    start = int(base64.b64decode(params["continue"]).decode()) if params.get("continue") else 0
    limit = int(params.get("limit") or 0) or len(items) or 1
    metadata: dict[str, Any] = {"resourceVersion": "1"}
    if start + limit < len(items):
        metadata["continue"] = base64.b64encode(str(start + limit).encode()).decode()
    return {"kind": "List", "apiVersion": "v1", "metadata": metadata, "items": items[start:start + limit]}


def resource_of(obj: dict[str, Any]) -> kmock.resource:
    group, version = GROUPS[obj["apiVersion"]]
    return kmock.resource(group, version, PLURALS[obj["kind"]])


def load_documents(paths: Iterable[Path]) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in paths:
        files = sorted(path.rglob("*.yaml")) if path.is_dir() else [path]
        for file in files:
            for doc in yaml.safe_load_all(file.read_text()):
                if isinstance(doc, dict) and doc.get("kind") == "List":
                    docs.extend(doc["items"])
                elif isinstance(doc, dict) and "kind" in doc:
                    docs.append(doc)
    return [d for d in docs if d["kind"] in PLURALS and d["apiVersion"] in GROUPS]


class ApiServer:
    """The emulator on a free loopback port, serving `objects`, until stopped."""

    def __init__(self, objects: Iterable[dict[str, Any]] = (), forbidden: Iterable[str] = ()) -> None:
        self.objects = list(objects)
        self.forbidden = set(forbidden)
        self.url = ""
        self.emulator: ScanEmulator | None = None
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with ScanEmulator(forbidden=self.forbidden) as emulator, kmock.Server(emulator) as server:
            for plural, api_version in RESOURCES.items():
                group, version = GROUPS[api_version]
                emulator.resources[kmock.resource(group, version, plural)] = {
                    "namespaced": plural not in ("namespaces", "clusterroles", "clusterrolebindings")}
            for obj in self.objects:
                if obj["kind"] == "Namespace":
                    emulator.namespaces[obj["metadata"]["name"]] = obj
                    continue
                meta = obj.get("metadata") or {}
                namespace = None if obj["kind"] in ("Namespace", "ClusterRole", "ClusterRoleBinding") else (
                    meta.get("namespace") or "default")
                emulator.objects[resource_of(obj), namespace, meta["name"]] = obj
            self.emulator = emulator
            self.url = str(server.url).rstrip("/")
            self._ready.set()
            await self._stop.wait()

    def start(self) -> ApiServer:
        self._thread.start()
        if not self._ready.wait(15):
            raise RuntimeError("the in-memory API server did not start")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    def kubeconfig(self, path: Path, token: str = TOKEN, context: str = "payments") -> Path:
        path.write_text(yaml.safe_dump({
            "apiVersion": "v1", "kind": "Config", "current-context": context,
            "clusters": [{"name": "emulated", "cluster": {"server": self.url}}],
            "users": [{"name": "scanner", "user": {"token": token}}],
            "contexts": [{"name": context, "context": {"cluster": "emulated", "user": "scanner"}}],
        }))
        return path


@contextmanager
def api_server(objects: Iterable[dict[str, Any]] = (), forbidden: Iterable[str] = ()) -> Iterator[ApiServer]:
    server = ApiServer(objects, forbidden).start()
    try:
        yield server
    finally:
        server.stop()
