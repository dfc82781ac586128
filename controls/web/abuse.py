"""Abuse limits: a burst of failed logins on the token endpoint is throttled within the budget."""

from __future__ import annotations

from collections.abc import Iterator
from itertools import groupby

from compliance.findings import Severity
from controls.registry import Verdict, check, errored, failed, passed
from controls.web.inventory import WebInventory, status


@check("web.abuse.token_rate_limit", severity=Severity.MEDIUM, resource_type="WebOperation",
       title="Repeated failed client authentications on the token endpoint are throttled",
       rationale="""Without a limit on failed authentication attempts, client secrets can be guessed at
       the speed of the network; the endpoint must answer 429 (or lock out) after a small number.""",
       remediation="""Rate-limit the token endpoint per client id and per source address, counting
       failures, and answer 429 with Retry-After.""")
def token_rate_limit(inv: WebInventory) -> Iterator[Verdict]:
    enabled = inv.options.get("web_allow_write") or inv.options.get("web_probe_rate_limit")
    records = sorted(inv.of_kind("rate-limit"), key=lambda r: (r.operation, r.params.get("attempt", 0)))
    if not records:
        if enabled:
            yield errored(inv.origin, "rate limit not probed: no OAuth2 token endpoint on this origin in the "
                                      "document or the credentials file")
        return
    burst = inv.options.get("web_rate_limit_burst", len(records))
    for operation, group in groupby(records, key=lambda r: r.operation):
        attempts = list(group)
        resource = inv.resource(operation)
        limited = next((r for r in attempts if r.ok and status(r) == 429), None)
        broken = next((r for r in attempts if not r.ok), None)
        if limited is not None:
            yield passed(resource, f"answered 429 after {limited.params['attempt'] - 1} failed attempts",
                         *attempts[-3:])
        elif broken is not None:
            yield errored(resource, f"burst stopped at attempt {broken.params.get('attempt')}: "
                                    f"{broken.error}", broken)
        else:
            codes = sorted({status(r) for r in attempts})
            yield failed(resource, f"{len(attempts)} failed attempts in a burst (of {burst} allowed), none "
                                   f"answered 429 (answers: {'/'.join(map(str, codes))})", *attempts[-3:])
