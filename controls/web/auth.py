"""Authentication checks: secured operations refuse anonymous and bad tokens; public ones are listed."""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.registry import Verdict, check, errored, failed, passed
from controls.web.inventory import WebInventory, status

BAD_CREDENTIALS = ("anonymous", "invalid-token", "expired-token", "unsigned-token")
_WORDS = {"anonymous": "no credentials", "invalid-token": "an invalid token",
          "expired-token": "an expired token", "unsigned-token": "an unsigned (alg none) token"}


@check("web.auth.required", severity=Severity.CRITICAL, resource_type="WebOperation",
       title="Secured operations refuse missing, invalid, expired and unsigned tokens",
       rationale="""Every operation the API document declares secured must answer 401 or 403 unless a
       valid credential is presented; one that answers anything else is reachable by anyone.""",
       remediation="""Authenticate in one place before routing (middleware or a gateway), verify the
       token's signature, algorithm, issuer and expiry, and refuse with 401 before looking anything up.""")
def required(inv: WebInventory) -> Iterator[Verdict]:
    for op in inv.probed():
        if not op.secured:
            continue
        records = inv.probes(op.key, *BAD_CREDENTIALS)
        resource = inv.resource(op)
        seen = {r.params["probe"] for r in records}
        missing = [p for p in BAD_CREDENTIALS if p not in seen]
        open_with, unknown = [], []
        for rec in records:
            words = _WORDS[rec.params["probe"]]
            if not rec.ok:
                unknown.append(f"{words}: {rec.error_code}")
            elif status(rec) == 429:
                unknown.append(f"{words}: rate limited (429)")
            elif status(rec) not in (401, 403):
                open_with.append(f"{words} -> {status(rec)}")
        if open_with:
            yield failed(resource, f"answers without valid credentials: {'; '.join(open_with)}", *records)
        elif unknown or missing:
            why = unknown + [f"{_WORDS[p]}: not sent" for p in missing]
            yield errored(resource, f"authentication unknown: {'; '.join(why)}", *records)
        else:
            codes = sorted({status(r) for r in records})
            yield passed(resource, f"refuses no, invalid, expired and unsigned tokens with "
                                   f"{'/'.join(map(str, codes))}", *records)


@check("web.auth.public_operations", severity=Severity.INFORMATIONAL, resource_type="WebOperation",
       title="Operations reachable without credentials are listed for review",
       rationale="""An assessor must know what anyone on the network can call: each operation the
       document declares public is listed with what it answered, so the access-control model can be
       reviewed against it.""",
       remediation="""Review each listed operation: it should serve nothing but public information (a
       health probe, the API description); declare security on any other.""")
def public_operations(inv: WebInventory) -> Iterator[Verdict]:
    for op in inv.probed():
        if op.secured:
            continue
        records = inv.probes(op.key, "anonymous")
        answered = [r for r in records if r.ok]
        if not answered:
            why = records[0].error if records else "not probed"
            yield errored(inv.resource(op), f"declared public; {why}", *records)
            continue
        yield passed(inv.resource(op), f"declared public; answers {status(answered[0])} without "
                                       "credentials (listed for review)", *records)
