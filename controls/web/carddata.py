"""Card data checks: no response shows a whole card number; masked ones show at most BIN and last four.

The collector found the numbers in each whole body and header set and stored them masked; these
checks read what it found, so the evidence never holds a card number in full.
"""

from __future__ import annotations

from collections.abc import Iterator

from compliance.findings import Severity
from controls.registry import Verdict, check, errored, failed, passed
from controls.web.inventory import WebInventory, described, status


@check("web.carddata.no_full_pan", severity=Severity.CRITICAL, resource_type="WebOperation",
       title="No response carries a whole card number",
       rationale="""A Luhn-valid 13-19 digit number in a response body or header is a card number shown
       in full: anyone who can call the operation, or read its logs and caches, gets it.""",
       remediation="""Return a token and the last four digits instead of the PAN; if a full PAN must
       ever be shown, restrict it to the few roles with a documented business need.""")
def no_full_pan(inv: WebInventory) -> Iterator[Verdict]:
    for op in inv.probed():
        answered = inv.responses(op.key)
        if not answered:
            yield errored(inv.resource(op), "no response to examine", *inv.probes(op.key))
            continue
        leaking = [r for r in answered if r.response.get("card_numbers")]
        if leaking:
            where = "; ".join(f"{described(r)} -> {status(r)} shows {', '.join(r.response['card_numbers'])}"
                              for r in leaking[:3])
            yield failed(inv.resource(op), f"whole card number in the response: {where}", *leaking)
        else:
            yield passed(inv.resource(op), f"no card number in {len(answered)} responses", *answered)


@check("web.carddata.masking", severity=Severity.HIGH, resource_type="WebOperation",
       title="Masked card numbers show at most the BIN and the last four digits",
       rationale="""A masked number that still shows more than the first six to eight and the last four
       digits reveals enough of the PAN to narrow it down.""",
       remediation="""Mask all but the first six (or eight) and the last four digits, or show only the
       last four.""")
def masking(inv: WebInventory) -> Iterator[Verdict]:
    for op in inv.probed():
        answered = inv.responses(op.key)
        if not answered:
            continue  # no_full_pan reports the missing responses once
        over = [r for r in answered if r.response.get("overexposed_card_numbers")]
        if over:
            shown = "; ".join(f"{described(r)} shows {', '.join(r.response['overexposed_card_numbers'])}"
                              for r in over[:3])
            yield failed(inv.resource(op), f"masked card number shows too many digits: {shown}", *over)
        else:
            yield passed(inv.resource(op), f"no over-revealing masked number in {len(answered)} responses",
                         *answered)
