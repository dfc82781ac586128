"""Error handling checks: malformed input gets a clean 4xx, never internals or a server error."""

from __future__ import annotations

import re
from collections.abc import Iterator

from compliance.findings import Severity
from controls.registry import Verdict, check, errored, failed, passed
from controls.web.inventory import MALFORMED, WebInventory, described, status

INTERNALS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("a Python traceback", re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")),
    ("a Java stack trace",
     re.compile(r"\bat [a-z][\w$]*(\.[\w$]+)+\([\w$]+\.java:\d+\)|Exception in thread")),
    ("a .NET stack trace", re.compile(r"\bat [\w.]+\(.*\) in .*:line \d+|System\.[A-Za-z.]+Exception")),
    ("a Node.js stack trace", re.compile(r"\bat .+ \((?:/|node:)[^)]*:\d+:\d+\)")),
    ("a PHP error",
     re.compile(r"(Fatal error|Warning|Parse error)</b>:|on line <b>\d+</b>|Stack trace:\s*#0")),
    ("a Ruby stack trace", re.compile(r"\.rb:\d+:in `")),
    ("a Go panic", re.compile(r"goroutine \d+ \[running\]|panic: runtime error")),
    ("a framework debug page", re.compile(
        r"Werkzeug Debugger|werkzeug\.debug|Django Version:|DEBUG = True|Whoops! There was an error|"
        r"Server Error in '/' Application|X-Debug-Token|__debugger__", re.I)),
    ("an SQL error", re.compile(
        r"SQL syntax|sqlite3\.\w+Error|psycopg2?\.|SQLSTATE\[|syntax error at or near|ORA-\d{5}|"
        r"unterminated quoted string|Unclosed quotation mark|sqlalchemy\.exc|PG::\w+Error|"
        r"MySQLSyntaxErrorException|SQLException", re.I)),
)


def internals(text: str) -> list[str]:
    return [name for name, pattern in INTERNALS if pattern.search(text)]


@check("web.errors.no_internals", severity=Severity.MEDIUM, resource_type="WebOperation",
       title="Responses never show stack traces, debug pages or SQL errors",
       rationale="""Internals in an error response tell an attacker the stack, the code paths and often
       the query being built: the map for an injection attack, and a sign input is not validated.""",
       remediation="""Turn off debug mode in production, handle every exception with a generic problem
       response (log the details server-side with a request id), validate input before it reaches a
       query.""")
def no_internals(inv: WebInventory) -> Iterator[Verdict]:
    for op in inv.probed():
        answered = inv.responses(op.key)
        if not answered:
            continue  # no_full_pan already reports an operation nothing answered
        shown = []
        for rec in answered:
            text = rec.response.get("body", "") + "\n" + "\n".join(
                f"{k}: {v}" for k, v in rec.response.get("headers", {}).items())
            if found := internals(text):
                shown.append((rec, found))
        malformed = sum(r.params.get("probe") in MALFORMED for r in answered)
        if shown:
            where = "; ".join(f"{described(r)} -> {status(r)} shows {' and '.join(f)}" for r, f in shown[:3])
            yield failed(inv.resource(op), where, *(r for r, _ in shown))
        else:
            yield passed(inv.resource(op), f"{len(answered)} responses ({malformed} to malformed input) show "
                                           "no stack trace, debug page or SQL error", *answered)


@check("web.errors.handled", severity=Severity.LOW, resource_type="WebOperation",
       title="Malformed path parameters, queries and bodies get a 4xx, not a server error",
       rationale="""A 5xx answer to malformed input means the input reached code that did not expect it:
       the place injection and denial-of-service flaws live.""",
       remediation="""Validate parameters, headers and bodies against the API's schema before use and
       answer what fails with 400 or 422.""")
def handled(inv: WebInventory) -> Iterator[Verdict]:
    for op in inv.probed():
        records = inv.probes(op.key, *MALFORMED)
        if not records:
            continue
        broken = [r for r in records if r.ok and status(r) >= 500]
        unknown = [r for r in records if not r.ok]
        if broken:
            where = "; ".join(f"{described(r)} -> {status(r)}" for r in broken[:4])
            yield failed(inv.resource(op), f"server error on malformed input: {where}", *broken)
        elif unknown:
            where = "; ".join(f"{described(r)}: {r.error_code}" for r in unknown[:4])
            yield errored(inv.resource(op), f"no answer to malformed input: {where}", *unknown)
        else:
            codes = sorted({status(r) for r in records})
            yield passed(inv.resource(op), f"{len(records)} malformed requests answered "
                                           f"{'/'.join(map(str, codes))}", *records)
