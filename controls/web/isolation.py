"""Tenant isolation: with two tenants' clients, neither reads nor lists the other's objects."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.collect.web.samples import collection_of, ids_in
from compliance.findings import Severity
from controls.registry import Verdict, check, errored, failed, passed
from controls.web.inventory import WebInventory, status


def _seen(inv: WebInventory) -> dict[str, dict[str, set[str]]]:
    """Ids each client saw in its own listings and creations, by collection path."""
    seen: dict[str, dict[str, set[str]]] = {}
    for rec in inv.of_kind("authenticated", "create"):
        path = rec.operation.partition(" ")[2]
        if not rec.ok or "{" in path or not 200 <= status(rec) < 300 or rec.response.get("truncated"):
            continue
        seen.setdefault(rec.params["client"], {}).setdefault(path.rstrip("/") or "/", set()).update(
            ids_in(rec.response["body"]))
    return seen


@check("web.isolation.cross_tenant", severity=Severity.CRITICAL, resource_type="WebOperation",
       title="A tenant's objects are not found by another tenant's credentials",
       rationale="""In a multi-tenant service each customer must reach only its own data: an object id
       of one tenant, asked for with another tenant's token, must be answered 404 (not found), and no
       listing may show another tenant's objects.""",
       remediation="""Scope every query by the tenant of the authenticated client (row-level security or
       a tenant filter applied by the data layer, not by each handler) and answer 404 for the rest.""")
def cross_tenant(inv: WebInventory) -> Iterator[Verdict]:
    clients = {r.params.get("client") for r in inv.of_kind("authenticated") if r.params.get("client")}
    if len(clients) < 2:
        return
    seen = _seen(inv)
    for op in inv.probed():
        if op.writes:
            continue
        resource = inv.resource(op)
        where = collection_of(op)
        if where is None:
            yield from _listing(inv, op.key, resource, seen)
            continue
        tries = inv.probes(op.key, "cross-tenant")
        if not tries:
            yield errored(resource, f"no object of one tenant was found to ask the other for in {where[0]} "
                                    "(nothing listed; --allow-write creates some)")
            continue
        exposed = [r for r in tries if r.ok and 200 <= status(r) < 300]
        unknown = [r for r in tries if not r.ok or status(r) not in (401, 403, 404)]
        if exposed:
            shown = "; ".join(f"{r.params['client']} read {r.params['owner']}'s {r.params['object_id']} "
                              f"({status(r)})" for r in exposed[:3])
            yield failed(resource, f"another tenant's object is readable: {shown}", *exposed)
        elif unknown:
            shown = "; ".join(f"{r.params['client']} asking for {r.params['owner']}'s object: "
                              f"{r.error_code if not r.ok else status(r)}" for r in unknown[:3])
            yield errored(resource, f"isolation unknown: {shown}", *unknown)
        else:
            codes = sorted({status(r) for r in tries})
            yield passed(resource, f"{len(tries)} requests for another tenant's objects answered "
                                   f"{'/'.join(map(str, codes))}", *tries)


def _listing(inv: WebInventory, operation: str, resource: str,
             seen: dict[str, dict[str, set[str]]]) -> Iterator[Verdict]:
    """A listing operation: the ids each client's own listing shows must not overlap another's."""
    path = operation.partition(" ")[2].rstrip("/") or "/"
    listed = {client: ids.get(path, set()) for client, ids in seen.items()}
    records = inv.probes(operation, "authenticated")
    if not any(listed.values()):
        return  # not a collection (or an empty one): the object reads report what could not be tried
    shared = [(a, b, listed[a] & listed[b]) for a in sorted(listed) for b in sorted(listed)
              if a < b and listed[a] & listed[b]]
    if shared:
        a, b, ids = shared[0]
        yield failed(resource, f"{a} and {b} both list {', '.join(sorted(ids)[:3])}", *records)
    else:
        counts = ", ".join(f"{c}: {len(ids)}" for c, ids in sorted(listed.items()))
        yield passed(resource, f"listings share no object ({counts})", *records)
