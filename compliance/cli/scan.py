"""`comply scan <target>`: collect, evaluate, assess, store, report; exit with a code a CI job can gate on."""

from __future__ import annotations

import datetime as dt
import inspect
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from compliance.assess import assess_scan, principal_summary_table
from compliance.engine import Selection, run_scan
from compliance.errors import UsageError
from compliance.findings import Severity, Status
from compliance.frameworks import FRAMEWORK_IDS, load
from compliance.scan import Scan
from compliance.store import Store
from compliance.targets import Target
from compliance.waivers import default_waivers_path, load_waivers
from reports import parse_formats, write_reports

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3

scan_app = typer.Typer(help="Scan a deployment.", no_args_is_help=True)


@dataclass(frozen=True)
class Output:
    """Where and how a scan's results go: checked before any API call is made."""

    out_dir: Path
    formats: list[str]
    fail_on: Severity
    store: Store
    frameworks: list[str]
    waivers_path: Path | None
    signing_key: Path | None
    organisation: str | None


def prepare_output(
    out: Path,
    formats: str,
    fail_on: str,
    db: str | None,
    frameworks: list[str] | None,
    waivers: Path | None,
    signing_key: Path | None,
    organisation: str | None,
) -> Output:
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file, not a directory")
    try:
        threshold = Severity.parse(fail_on)
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}") from None
    chosen = list(dict.fromkeys(frameworks or FRAMEWORK_IDS))
    for framework_id in chosen:
        load(framework_id)
    if waivers is not None and not waivers.is_file():
        raise UsageError(f"waivers file {waivers} not found")
    if signing_key is not None and not signing_key.is_file():
        raise UsageError(f"signing key {signing_key} not found")
    parsed = parse_formats(formats)
    store = Store(db)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out {out}: {exc.strerror}") from None
    return Output(
        out, parsed, threshold, store, chosen, waivers or default_waivers_path(), signing_key, organisation
    )


def exit_code(scan: Scan, fail_on: Severity) -> int:
    if scan.failing(fail_on):
        return EXIT_FAILED
    return EXIT_INCOMPLETE if scan.errors() else EXIT_OK


def check_table(scan: Scan) -> Table:
    table = Table(title=f"Scan {scan.id}: findings by check", title_justify="left")
    table.add_column("check")
    table.add_column("severity")
    for status, style in (("PASS", "green"), ("FAIL", "red"), ("ERROR", "yellow")):
        table.add_column(status, justify="right", style=style)
    counts: dict[str, Counter[str]] = {}
    severity: dict[str, Severity] = {}
    for f in scan.findings:
        counts.setdefault(f.check_id, Counter())[f.status.value] += 1
        severity[f.check_id] = f.severity
    for check_id in sorted(counts, key=lambda c: (-severity[c], c)):
        c = counts[check_id]
        table.add_row(
            check_id, severity[check_id].label, *(str(c[s] or "") for s in ("PASS", "FAIL", "ERROR"))
        )
    return table


def failure_lines(scan: Scan, limit: int = 25) -> list[str]:
    worst = sorted(
        (f for f in scan.findings if f.status in (Status.FAIL, Status.ERROR)),
        key=lambda f: (f.status is not Status.FAIL, -f.severity, f.check_id, f.resource_id),
    )
    lines = []
    for f in worst[:limit]:
        waived = " [waived]" if f.suppressed_by else ""
        lines.append(
            f"{f.status.value:5} {f.severity.label:8} {f.check_id}  {f.resource_id}{waived}\n      {f.reason}"
        )
    if len(worst) > limit:
        lines.append(f"... and {len(worst) - limit} more in the findings file")
    return lines


def finish(scan: Scan, output: Output, console: Console) -> int:
    """Assess, store, render and summarise a collected scan; returns the exit code."""
    waivers = load_waivers(output.waivers_path) if output.waivers_path else []
    warnings = assess_scan(scan, output.store, output.frameworks, waivers, dt.date.today())
    output.store.save_scan(scan)
    paths = write_reports(
        scan,
        output.formats,
        output.out_dir,
        signing_key=output.signing_key,
        organisation=output.organisation,
        store=output.store,
    )
    console.print(check_table(scan))
    for framework_id in output.frameworks:
        results = [r for r in scan.requirement_results if r.framework == framework_id]
        console.print(principal_summary_table(results, load(framework_id)))
    for line in failure_lines(scan):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for warning in warnings:
        console.print(f"warning: {warning}", style="yellow", markup=False)
    counts = scan.counts()
    console.print(
        f"{len(scan.findings)} findings: {counts['PASS']} passed, {counts['FAIL']} failed, "
        f"{counts['ERROR']} could not be assessed; {len(scan.evidence)} evidence records."
    )
    console.print(f"scan {scan.id} stored in {output.store.url}", markup=False, highlight=False)
    for path in paths:
        console.print(f"wrote {path}", markup=False, highlight=False)
    code = exit_code(scan, output.fail_on)
    console.print(
        f"exit {code}: "
        + {
            EXIT_OK: f"nothing failed at or above {output.fail_on.label}",
            EXIT_FAILED: f"{len(scan.failing(output.fail_on))} failure(s) at or above {output.fail_on.label}",
            EXIT_INCOMPLETE: "some checks could not be assessed; nothing failed",
        }[code]
    )
    return code


def progress_bar(console: Console) -> Progress:
    return Progress(
        TextColumn("collecting {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


OUT = typer.Option(Path("comply-out"), "--out", help="Directory for the findings file and reports.")
FORMAT = typer.Option(
    "ocsf", "--format", help="Comma-separated: ocsf, csv, sarif, junit, html, pdf, evidence, or all."
)
FAIL_ON = typer.Option(
    "low",
    "--fail-on",
    help="Exit 1 when an unwaived failure is at or above this "
    "severity: informational, low, medium, high, critical.",
)
DB = typer.Option(
    None,
    "--db",
    help="SQLAlchemy URL of the store (default: COMPLY_DB or a SQLite file in the user's data directory).",
)
FRAMEWORK = typer.Option(
    None, "--framework", help="pci-dss-4.0.1 or iso27001-2022 (repeatable; default both)."
)
WAIVERS = typer.Option(
    None, "--waivers", help="Waivers YAML (default: waivers.yaml in the current directory, if present)."
)
SIGNING_KEY = typer.Option(
    None, "--signing-key", help="Ed25519 private key (PEM) that signs the evidence pack."
)
ORGANISATION = typer.Option(
    None, "--organisation", envvar="COMPLY_ORGANISATION", help="Organisation name for the report cover."
)


def output_options(
    out: Path = OUT,
    format: str = FORMAT,
    fail_on: str = FAIL_ON,
    db: str | None = DB,
    framework: list[str] | None = FRAMEWORK,
    waivers: Path | None = WAIVERS,
    signing_key: Path | None = SIGNING_KEY,
    organisation: str | None = ORGANISATION,
) -> Output:
    """The options every `comply scan <target>` shares: where results go and what fails the run."""
    return prepare_output(out, format, fail_on, db, framework, waivers, signing_key, organisation)


def run_targets(targets: Sequence[Target], output: Output, *, select: Selection | None = None) -> int:
    """Run the pipeline over the targets and finish the scan; returns the exit code."""
    with progress_bar(Console(stderr=True)) as bar:
        task = bar.add_task("", total=None)
        scan = run_scan(
            targets,
            select=select,
            progress=lambda name, done, total: bar.update(
                task, description=name, completed=done, total=total
            ),
        )
    return finish(scan, output, Console())


TargetBuilder = Callable[..., Target | Sequence[Target]]


def scan_command(name: str) -> Callable[[TargetBuilder], TargetBuilder]:
    """Register `comply scan NAME` from a function that turns the target's own options into targets.

    The command's options are the builder's parameters followed by `output_options`' ones, so every
    target gets the same output, gating and store options without repeating them.
    """

    def register(build: TargetBuilder) -> TargetBuilder:
        hints = {**get_type_hints(build), **get_type_hints(output_options)}
        own = list(inspect.signature(build).parameters.values())
        shared = list(inspect.signature(output_options).parameters.values())
        clash = {p.name for p in own} & {p.name for p in shared}
        if clash:
            raise ValueError(f"scan {name}: options {sorted(clash)} are shared by every scan command")

        def command(**kwargs: Any) -> None:
            output = output_options(**{p.name: kwargs.pop(p.name) for p in shared})
            built = build(**kwargs)
            targets = [built] if not isinstance(built, Sequence) else list(built)
            raise typer.Exit(run_targets(targets, output))

        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [p.replace(annotation=hints[p.name]) for p in (*own, *shared)]
        )
        command.__annotations__ = {p.name: hints[p.name] for p in (*own, *shared)}
        command.__doc__ = build.__doc__
        command.__name__ = f"scan_{name}"
        scan_app.command(name)(command)
        return build

    return register


@scan_command("aws")
def scan_aws_command(
    profile: str | None = typer.Option(None, "--profile", help="AWS profile to use."),
    role_arn: str | None = typer.Option(None, "--role-arn", help="Role to assume before scanning."),
    external_id: str | None = typer.Option(None, "--external-id", help="External id for --role-arn."),
    region: list[str] | None = typer.Option(
        None, "--region", help="Region to scan (repeatable; default: every region enabled for the account)."
    ),
    endpoint_url: str | None = typer.Option(
        None,
        "--endpoint-url",
        help="Send every AWS call to this endpoint (an emulator such as moto's server).",
    ),
    ecr_min_severity: str = typer.Option(
        "high", "--ecr-min-severity", help="Image findings at or above this severity fail the ECR check."
    ),
    workers: int = typer.Option(16, "--workers", min=1, max=64, help="Concurrent API calls."),
) -> Target:
    """Scan an AWS account (or an emulator of one) and map the results to PCI DSS and ISO 27001."""
    from compliance.targets.aws import AwsTarget

    try:
        ecr_threshold = Severity.parse(ecr_min_severity)
    except ValueError as exc:
        raise UsageError(f"--ecr-min-severity: {exc}") from None
    return AwsTarget(
        profile=profile,
        role_arn=role_arn,
        external_id=external_id,
        regions=list(region or []),
        endpoint_url=endpoint_url,
        ecr_min_severity=ecr_threshold,
        workers=workers,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(scan_app, name="scan")
