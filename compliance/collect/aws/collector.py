"""The one generic AWS collector: runs the spec, paginates, retries, runs concurrently, records evidence.

Tasks never wait on each other: a finished call returns the follow-up tasks its items imply and the
main thread submits them, so a bounded pool cannot deadlock on nested work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from botocore.exceptions import ClientError

from compliance.collect.aws.session import AwsAccount, bounded, client_config
from compliance.collect.aws.spec import GLOBAL, Call, Follow
from compliance.collect.record import EvidenceRecord, Outcome, items_at, jsonable, utcnow

NOT_IMPLEMENTED = "NotImplemented"
log = logging.getLogger("comply.aws")
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Task:
    service: str
    operation: str
    scope: str
    client_region: str
    params: dict[str, Any]
    absent: frozenset[str]
    context: dict[str, Any]
    key: str | None = None
    follow: tuple[Follow, ...] = ()
    select: Callable[[list[dict[str, Any]]], list[dict[str, Any]]] | None = None


def fill(template: Any, context: dict[str, Any]) -> Any:
    """Fill a parameter template from the parent items: '{Name}' keeps the value's own type."""
    if isinstance(template, dict):
        return {k: fill(v, context) for k, v in template.items()}
    if isinstance(template, list):
        return [fill(v, context) for v in template]
    if isinstance(template, str) and "{" in template:
        inner = template[1:-1]
        if template.startswith("{") and template.endswith("}") and "{" not in inner:
            return context[inner]
        return template.format_map(context)
    return template


def plan(spec: Iterable[Call], target: AwsAccount) -> list[Task]:
    tasks = []
    for call in spec:
        home = call.region or target.home_region
        scopes = [(GLOBAL, home)] if call.scope == GLOBAL else [(r, r) for r in target.regions]
        for scope, region in scopes:
            params = fill(call.params, {"region": region, "account": target.account_id})
            tasks.append(Task(call.service, call.operation, scope, region, params, call.absent,
                              {"region": region, "account": target.account_id}, call.key, call.follow))
    return tasks


def follow_ups(task: Task, record: EvidenceRecord) -> list[Task]:
    """The per-item calls a successful answer implies."""
    if record.outcome is not Outcome.OK or not task.follow or not task.key:
        return []
    items = items_at(record.response, task.key)
    if task.select is not None:
        items = task.select(items)
    out = []
    for item in items:
        context = {**task.context, **(item if isinstance(item, dict) else {"item": item})}
        for step in task.follow:
            if step.when is not None and not step.when(context):
                continue
            try:
                params = fill(step.params, context)
            except (KeyError, IndexError, ValueError):
                continue  # the item lacks the field the call needs: there is nothing to call
            out.append(Task(step.service or task.service, step.operation, task.scope, task.client_region,
                            params, step.absent, context, step.key, step.then, step.select))
    return out


def _merge(pages: list[dict[str, Any]]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for page in pages:
        for key, value in page.items():
            if key == "ResponseMetadata":
                continue
            if isinstance(value, list) and isinstance(merged.get(key), list):
                merged[key].extend(value)
            elif key not in merged:
                merged[key] = list(value) if isinstance(value, list) else value
    for token in ("NextToken", "Marker", "NextMarker", "nextToken", "position", "IsTruncated"):
        merged.pop(token, None)
    return merged


def _error_code(exc: BaseException) -> tuple[str, str, str | None]:
    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code") or "ClientError")
        message = str(err.get("Message") or exc)
        if "not been implemented" in message.lower() or "not yet implemented" in message.lower():
            code = NOT_IMPLEMENTED
        return code, message, exc.response.get("ResponseMetadata", {}).get("RequestId")
    if isinstance(exc, NotImplementedError):
        return NOT_IMPLEMENTED, str(exc) or "operation not implemented by the endpoint", None
    return type(exc).__name__, (str(exc).splitlines() or [""])[0], None


def _one_host(endpoint_url: str) -> Callable[..., None]:
    """An emulator answers on one host: undo the ``{AccountId}.`` host prefix s3control's endpoint rules
    put in front of --endpoint-url."""
    host = urlsplit(endpoint_url).netloc

    def rewrite(request: Any, **_: Any) -> None:
        parts = urlsplit(request.url)
        if parts.netloc != host and parts.netloc.endswith("." + host):
            request.url = urlunsplit(parts._replace(netloc=host))

    return rewrite


class AwsCollector:
    def __init__(self, target: AwsAccount, *, workers: int = 16, max_attempts: int = 8,
                 timeout: float | None = None) -> None:
        self.target = target
        self.workers = workers
        self.config = client_config(max_attempts=max_attempts, pool=workers, timeout=timeout)
        self.timeout = timeout
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        """One client per service and region, made under a lock: boto3 sessions are not thread-safe."""
        with self._lock:
            key = (service, region)
            if key not in self._clients:
                client = bounded(self.target.session.client(
                    service, region_name=region, endpoint_url=self.target.endpoint_url, config=self.config),
                    self.timeout)
                if self.target.endpoint_url and service == "s3control":
                    client.meta.events.register("before-sign.s3-control", _one_host(self.target.endpoint_url))
                self._clients[key] = client
            return self._clients[key]

    def call(self, task: Task) -> EvidenceRecord:
        clock = time.monotonic()
        record = self._call(task)
        if log.isEnabledFor(logging.DEBUG):
            outcome = record.error_code if record.outcome is not Outcome.OK else "ok"
            log.debug("aws %s.%s %s: %s in %.0f ms%s", task.service, task.operation, task.scope, outcome,
                      (time.monotonic() - clock) * 1000,
                      f" (request {record.request_id})" if record.request_id else "")
        return record

    def _call(self, task: Task) -> EvidenceRecord:
        started = utcnow()

        def record(outcome: Outcome, **fields: Any) -> EvidenceRecord:
            return EvidenceRecord("aws", task.service, task.operation, task.scope, jsonable(task.params),
                                  started, outcome, **fields)

        try:
            client = self.client(task.service, task.client_region)
            if client.can_paginate(task.operation):
                pages = list(client.get_paginator(task.operation).paginate(**task.params))
            else:
                pages = [getattr(client, task.operation)(**task.params)]
        except Exception as exc:  # every failure is evidence; none may abort the scan
            code, message, request_id = _error_code(exc)
            if code in task.absent:
                return record(Outcome.ABSENT, response={"absent": code}, request_id=request_id,
                              error_code=code, error_message=message)
            return record(Outcome.ERROR, request_id=request_id, error_code=code, error_message=message)
        request_ids = [p.get("ResponseMetadata", {}).get("RequestId") for p in pages]
        return record(Outcome.OK, response=jsonable(_merge(pages)),
                      request_id=",".join(r for r in request_ids if r) or None)

    def run(self, tasks: Iterable[Task], progress: Progress | None = None) -> Iterator[EvidenceRecord]:
        """Call every task and every follow-up it implies; yield records as they complete."""
        submitted = 0
        done = 0
        with ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="collect") as pool:
            pending: dict[Future[EvidenceRecord], Task] = {}
            for task in tasks:
                pending[pool.submit(self.call, task)] = task
                submitted += 1
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    task = pending.pop(future)
                    record = future.result()
                    for child in follow_ups(task, record):
                        pending[pool.submit(self.call, child)] = child
                        submitted += 1
                    done += 1
                    if progress is not None:
                        progress(done, submitted)
                    yield record


def collect(target: AwsAccount, spec: Iterable[Call], *, workers: int = 16, max_attempts: int = 8,
            progress: Progress | None = None, timeout: float | None = None) -> list[EvidenceRecord]:
    collector = AwsCollector(target, workers=workers, max_attempts=max_attempts, timeout=timeout)
    records = [target.identity_record, *collector.run(plan(spec, target), progress)]
    return sorted(records, key=lambda r: r.id)


