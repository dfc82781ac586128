"""`comply scan <target>`: collect, evaluate, assess, store, report; exit with a code a CI job can gate on."""

from __future__ import annotations

import datetime as dt
import inspect
import logging
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, Protocol, get_type_hints, runtime_checkable

import typer
from typer import _click as typer_click  # typer vendors click

from compliance.cli import runtime
from compliance.errors import UsageError

if TYPE_CHECKING:  # the scan machinery is imported when a scan runs, not to parse its command line
    from rich.console import Console
    from rich.progress import Progress
    from rich.table import Table

    from compliance import keys
    from compliance.baseline import Baseline
    from compliance.engine import Selection
    from compliance.findings import Finding, Severity
    from compliance.outdir import OutputFolder
    from compliance.scan import Scan
    from compliance.store import Store
    from compliance.targets import Target
    from compliance.waivers import Waiver

EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INCOMPLETE = 0, 1, 2, 3
STREAMABLE = ("ocsf", "sarif", "csv", "junit")
log = logging.getLogger("comply")

EXIT_CONTRACT = (
    "Exit codes: 0 nothing failed at or above --fail-on; 1 an unwaived failure at or above it (only "
    "that); 2 the command could not run as asked (bad flag, file, store, output folder, credentials, "
    "region), found before collection, or no check could read anything; 3 some checks could not be "
    "assessed and nothing failed; 4 internal error (run again with --debug). --fail-on none exits 0 "
    "on any completed scan; 2 and 4 keep their meaning."
)

scan_app = typer.Typer(help="Scan a deployment.\n\n" + EXIT_CONTRACT, no_args_is_help=True)


@dataclass(frozen=True)
class Output:
    """Where and how a scan's results go: checked before any API call is made."""

    out_dir: Path | None
    """None when --out - streams one format to stdout."""
    formats: list[str]
    fail_on: Severity | None
    """None for --fail-on none: report only."""
    store: Store
    frameworks: list[str]
    waivers_path: Path | None
    signing_key: Path | None
    organisation: str | None
    quiet: bool = False
    timeout: float | None = None
    baseline: Baseline | None = None
    folder: OutputFolder | None = None
    scan_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    waivers: tuple[Waiver, ...] = ()
    select: Selection | None = None
    """--checks/--exclude-checks/--services/--severity as one predicate; None runs every check."""
    preparer: str | None = None
    """--preparer / COMPLY_PREPARER, stored with the scan."""

    @property
    def streaming(self) -> bool:
        return self.out_dir is None


def _threshold(fail_on: str) -> Severity | None:
    from compliance.findings import Severity

    if fail_on.strip().lower() == "none":
        return None
    try:
        return Severity.parse(fail_on)
    except ValueError as exc:
        raise UsageError(f"--fail-on: {exc}, or none") from None


def prepare_output(
    out: Path | str,
    formats: str,
    fail_on: str,
    db: str | None,
    frameworks: list[str] | None,
    waivers: Path | None,
    signing_key: Path | None,
    organisation: str | None,
    *,
    quiet: bool = False,
    timeout: float | None = None,
    baseline: str | None = None,
    scan_id: str | None = None,
    preparer: str | None = None,
) -> Output:
    """Validate every input a scan needs and claim the output folder, before anything is collected."""
    from compliance import keys
    from compliance.baseline import load_baseline
    from compliance.frameworks import FRAMEWORK_IDS, load
    from compliance.outdir import OutputFolder
    from compliance.store import Store
    from compliance.waivers import default_waivers_path, load_waivers
    from reports import parse_formats

    out_text = str(out)
    threshold = _threshold(fail_on)
    chosen = list(dict.fromkeys(frameworks or FRAMEWORK_IDS))
    for framework_id in chosen:
        load(framework_id)
    parsed = parse_formats(formats)
    if out_text == "-":
        wanted = [f for f in parsed if f != "evidence"] if formats.strip() != "all" else parsed
        if len(wanted) != 1 or wanted[0] not in STREAMABLE:
            raise UsageError(f"--out - streams exactly one format to stdout: give --format with one of "
                             f"{', '.join(STREAMABLE)} (got {formats!r})")
        parsed = wanted
    if timeout is not None and not (0 < timeout <= 3600):
        raise UsageError(f"--timeout must be between 0 and 3600 seconds, got {timeout}")
    waivers_path = waivers or default_waivers_path()
    loaded = tuple(load_waivers(waivers_path)) if waivers_path is not None else ()
    if signing_key is not None:
        keys.signer(signing_key)
    folder = None if out_text == "-" else OutputFolder(out_text)
    store = Store(db)
    store.check_writable()
    base = load_baseline(baseline, store) if baseline else None
    output = Output(None if folder is None else folder.path, parsed, threshold, store, chosen, waivers_path,
                    signing_key, organisation, quiet, timeout, base, folder, waivers=loaded,
                    preparer=preparer)
    return replace(output, scan_id=scan_id) if scan_id is not None else output


def claim(output: Output) -> None:
    """Hold the output folder once every input is checked and the targets answered, before collecting."""
    if output.folder is not None:
        output.folder.claim(output.scan_id)


def gating(scan: Scan, fail_on: Severity | None, baseline: Baseline | None = None) -> list[Finding]:
    """The failures the exit code counts: unwaived, at or above --fail-on, and not in the baseline."""
    if fail_on is None:
        return []
    failing = scan.failing(fail_on)
    return baseline.new(failing) if baseline is not None else failing


def nothing_readable(scan: Scan) -> bool:
    """Every check ended in ERROR: the scan saw nothing, which is not a clean 'could not assess some'."""
    from compliance.findings import Status

    return bool(scan.findings) and all(f.status is Status.ERROR for f in scan.findings)


def exit_code(scan: Scan, fail_on: Severity | None, baseline: Baseline | None = None) -> int:
    if nothing_readable(scan):
        return EXIT_USAGE
    if fail_on is None:
        return EXIT_OK
    if gating(scan, fail_on, baseline):
        return EXIT_FAILED
    return EXIT_INCOMPLETE if scan.errors() else EXIT_OK


def check_table(scan: Scan) -> Table:
    from collections import Counter

    from rich.table import Table

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
    from compliance.findings import Status

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


def _publish(scan: Scan, output: Output, signer: keys.Signer) -> list[Path]:
    """Render into staging, store the scan, then move the outputs into place all at once."""
    from reports import write_reports

    if output.streaming:
        with tempfile.TemporaryDirectory(prefix="comply-stream-") as tmp:
            paths = write_reports(scan, output.formats, Path(tmp), signing_key=output.signing_key,
                                  organisation=output.organisation, store=output.store,
                                  preparer=scan.preparer)
            output.store.save_scan(scan, signer)
            sys.stdout.buffer.write(paths[0].read_bytes())
            sys.stdout.flush()
        return []
    assert output.folder is not None
    staging = output.folder.staging(scan.id)
    try:
        write_reports(scan, output.formats, staging, signing_key=output.signing_key,
                      organisation=output.organisation, store=output.store, preparer=scan.preparer)
        output.store.save_scan(scan, signer)
        return output.folder.publish(staging, scan.id)
    except BaseException:
        output.folder.discard(staging)
        raise


def _reason(code: int, scan: Scan, output: Output) -> str:
    threshold = output.fail_on.label if output.fail_on is not None else "none"
    failing = gating(scan, output.fail_on, output.baseline)
    outside = f" not in the baseline ({output.baseline.label})" if output.baseline is not None else ""
    if code == EXIT_USAGE:
        first = scan.findings[0].reason if scan.findings else ""
        hint = ("the endpoint did not answer in time: check it, or allow more with --timeout"
                if "no answer within --timeout" in first else "check the credentials' permissions")
        return f"no check could read anything (e.g. {first}): {hint}"
    if code == EXIT_FAILED:
        return f"{len(failing)} failure(s) at or above {threshold}{outside}"
    if code == EXIT_INCOMPLETE:
        return f"some checks could not be assessed; nothing failed at or above {threshold}{outside}"
    if output.fail_on is None:
        return "report only (--fail-on none)"
    return f"nothing failed at or above {threshold}{outside}"


def unreached_lines(scan: Scan) -> list[str]:
    """Accounts of an organisation scan that could not be entered: their checks all say ERROR."""
    several = "+" in scan.target
    scopes = [s for s in scan.scope.values() if isinstance(s, dict)] if several else [scan.scope]
    return [f"account {a['id']} ({a.get('name') or 'unnamed'}) was not reached: {a.get('reason')}"
            for scope in scopes for a in scope.get("accounts", []) if not a.get("reached", True)]


def finish(scan: Scan, output: Output, console: Console) -> int:
    """Assess, store, render and summarise a collected scan; returns the exit code."""
    from compliance import keys
    from compliance.assess import assess_scan, principal_summary_table
    from compliance.frameworks import load
    from compliance.waivers import load_waivers

    scan.id = output.scan_id
    waivers = list(output.waivers) or (load_waivers(output.waivers_path) if output.waivers_path else [])
    warnings = assess_scan(scan, output.store, output.frameworks, waivers, dt.date.today())
    scan.organisation = output.organisation or scan.organisation
    scan.preparer = output.preparer or scan.preparer
    signer = keys.signer(output.signing_key)
    paths = _publish(scan, output, signer)
    code = exit_code(scan, output.fail_on, output.baseline)
    counts = scan.counts()
    summary = (f"scan {scan.id}: {len(scan.findings)} findings, {counts['PASS']} passed, {counts['FAIL']} "
               f"failed, {counts['ERROR']} could not be assessed; exit {code}: {_reason(code, scan, output)}")
    if output.quiet:
        console.print(summary, markup=False, highlight=False, soft_wrap=True)
        return code
    console.print(check_table(scan))
    for framework_id in output.frameworks:
        results = [r for r in scan.requirement_results if r.framework == framework_id]
        console.print(principal_summary_table(results, load(framework_id)))
    for line in failure_lines(scan):
        console.print(line, markup=False, highlight=False, soft_wrap=True)
    for warning in [*unreached_lines(scan), *warnings]:
        console.print(f"warning: {warning}", style="yellow", markup=False)
    if output.baseline is not None:
        for f in gating(scan, output.fail_on, output.baseline):
            console.print(f"new since the baseline: {f.check_id} {f.resource_id}", markup=False,
                          highlight=False, soft_wrap=True)
    console.print(f"{len(scan.evidence)} evidence records; scan {scan.id} stored in {output.store.url}, "
                  f"sealed and signed by key {keys.fingerprint(signer.public_key())} ({signer.algorithm})",
                  markup=False, highlight=False)
    for path in paths:
        console.print(f"wrote {path}", markup=False, highlight=False)
    console.print(summary, markup=False, highlight=False, soft_wrap=True)
    return code


def progress_bar(console: Console) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("collecting {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )


class PlainProgress:
    """Outside a terminal: one plain line on stderr every few seconds, so a CI log shows life."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self.started = time.monotonic()
        self.last = self.started

    def __call__(self, name: str, done: int, total: int) -> None:
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            sys.stderr.write(f"comply: collecting {name}: {done} of {total} calls done, "
                             f"{now - self.started:.0f} s\n")
            sys.stderr.flush()


OUT = typer.Option(Path("comply-out"), "--out", help="Directory for the findings file and reports.")
OUT_OR_STDOUT = typer.Option(
    "comply-out", "--out", help="Folder for the findings file, reports and evidence pack (one scan's outputs "
    "at a time), or - to stream one --format (ocsf, sarif, csv, junit) to stdout."
)
FORMAT = typer.Option(
    "ocsf", "--format", help="Comma-separated: ocsf, csv, sarif, junit, html, pdf, evidence, or all."
)
FAIL_ON = typer.Option(
    "low",
    "--fail-on",
    help="Exit 1 when an unwaived failure is at or above this "
    "severity: informational, low, medium, high, critical; none reports only (exit 0).",
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
    None, "--signing-key", help="Key that seals the stored scan and signs the evidence pack: a PEM private "
    "key (Ed25519, ECDSA or RSA) or kms:KEY_ARN (default: $COMPLY_SIGNING_KEY, else your own key)."
)
PREPARER = typer.Option(
    None, "--preparer", envvar="COMPLY_PREPARER",
    help="Assessor or preparer named on the report cover and as the PDF's author (stored with the scan).")
ORGANISATION = typer.Option(
    None, "--organisation", envvar="COMPLY_ORGANISATION", help="Organisation name for the report cover."
)
QUIET = typer.Option(False, "--quiet", "-q", help="Print only the summary line.")
LOG_LEVEL = typer.Option(
    "warning", "--log-level", help="debug (every API call with its duration and outcome), info or warning; "
    "to stderr. --debug implies debug."
)
TIMEOUT = typer.Option(
    None, "--timeout", help="Seconds an API request may take. AWS: in all, retries included (no retry "
    "starts after it; the request is then an ERROR naming the timeout). Web: each request's connect and "
    "read (no retries). Kubernetes: each attempt (one retry)."
)
BASELINE = typer.Option(
    None, "--baseline", help="A scan id, latest, or a findings.ocsf.json: gate only on failures not in it "
    "(same check and resource)."
)
CONFIG = typer.Option(
    None, "--config", help="Config file (default: comply.yaml in the current directory, if present). "
    "Precedence: flag, then COMPLY_<OPTION> variable, then the file."
)


CHECKS = typer.Option(None, "--checks", help="Run only these check ids (comma-separated or repeated).")
EXCLUDE_CHECKS = typer.Option(None, "--exclude-checks", help="Skip these check ids (comma-separated).")
SERVICES = typer.Option(None, "--services", help="Run only checks of these services, e.g. s3,iam.")
SEVERITY = typer.Option(None, "--severity", help="Run only checks at or above this severity.")


def output_options(
    out: str = OUT_OR_STDOUT,
    format: str = FORMAT,
    fail_on: str = FAIL_ON,
    db: str | None = DB,
    framework: list[str] | None = FRAMEWORK,
    waivers: Path | None = WAIVERS,
    signing_key: Path | None = SIGNING_KEY,
    organisation: str | None = ORGANISATION,
    preparer: str | None = PREPARER,
    quiet: bool = QUIET,
    log_level: str = LOG_LEVEL,
    timeout: float | None = TIMEOUT,
    baseline: str | None = BASELINE,
    config: Path | None = CONFIG,
    checks: list[str] | None = CHECKS,
    exclude_checks: list[str] | None = EXCLUDE_CHECKS,
    services: list[str] | None = SERVICES,
    severity: str | None = SEVERITY,
) -> Output:
    """The options every `comply scan <target>` shares: where results go and what fails the run."""
    from compliance.selection import parse_selection
    from controls.registry import all_checks

    level = log_level.strip().lower()
    if level not in runtime.LEVELS:
        raise UsageError(f"--log-level must be one of {', '.join(runtime.LEVELS)}, got {log_level!r}")
    runtime.set_level("debug" if runtime.debug() else level)
    select = parse_selection(checks, exclude_checks, services, severity, all_checks())
    output = prepare_output(out, format, fail_on, db, framework, waivers, signing_key, organisation,
                            quiet=quiet, timeout=timeout, baseline=baseline, preparer=preparer)
    return replace(output, select=select) if select is not None else output


def run_targets(targets: Sequence[Target], output: Output, *, select: Selection | None = None) -> int:
    """Run the pipeline over the targets and finish the scan; returns the exit code."""
    from rich.console import Console

    from compliance.engine import run_scan

    for target in targets:
        if output.timeout is not None and hasattr(target, "timeout"):
            target.timeout = output.timeout  # type: ignore[attr-defined]
    human = Console(stderr=output.streaming)
    err = Console(stderr=True)
    try:
        if err.is_terminal and not output.quiet:
            with progress_bar(err) as bar:
                task = bar.add_task("", total=None)
                scan = run_scan(targets, select=select or output.select, connected=lambda: claim(output),
                                progress=lambda name, done, total: bar.update(
                                    task, description=name, completed=done, total=total))
        else:
            scan = run_scan(targets, select=select or output.select, connected=lambda: claim(output),
                            progress=None if output.quiet else PlainProgress())
        return finish(scan, output, human)
    finally:
        if output.folder is not None:
            output.folder.release()


@runtime_checkable
class ScanJob(Protocol):
    """What a scan command may build instead of targets: work that is not one collection in this
    process (planning shards, running them in a pool). It gets the validated output options."""

    def run_job(self, output: Output) -> int: ...


TargetBuilder = Callable[..., "Target | Sequence[Target] | ScanJob"]
BUILDERS: dict[str, TargetBuilder] = {}
"""Every registered `comply scan <name>`: its options are what a config file's `<name>:` section may set."""


def _option_names(function: Callable[..., Any]) -> list[str]:
    return list(inspect.signature(function).parameters)


def _parameter_hints(function: Callable[..., Any]) -> dict[str, Any]:
    """The parameters' annotations evaluated, not the return's: a builder's return type (a Target) is
    only imported for type checkers, so that parsing a command line imports no scan machinery."""
    annotations = {k: v for k, v in function.__annotations__.items() if k != "return"}
    return get_type_hints(SimpleNamespace(__annotations__=annotations), globalns=function.__globals__)


def scan_command(name: str) -> Callable[[TargetBuilder], TargetBuilder]:
    """Register `comply scan NAME` from a function that turns the target's own options into targets.

    The command's options are the builder's parameters followed by `output_options`' ones, so every
    target gets the same output, gating, store, logging and config options without repeating them.
    A target with a `timeout` attribute gets --timeout. Options come from the flag, a COMPLY_<OPTION>
    variable or the config file (`compliance/config.py`), in that order.
    """

    def register(build: TargetBuilder) -> TargetBuilder:
        hints = {**_parameter_hints(build), **_parameter_hints(output_options)}
        own = list(inspect.signature(build).parameters.values())
        shared = list(inspect.signature(output_options).parameters.values())
        clash = {p.name for p in own} & {p.name for p in shared}
        if clash:
            raise ValueError(f"scan {name}: options {sorted(clash)} are shared by every scan command")
        BUILDERS[name] = build

        def command(**kwargs: Any) -> None:
            from compliance import config

            ctx = typer_click.globals.get_current_context()
            kwargs = config.apply(ctx, kwargs, name, kwargs.get("config"), [p.name for p in shared],
                                  {n: _option_names(b) for n, b in BUILDERS.items()})
            output = output_options(**{p.name: kwargs.pop(p.name) for p in shared})
            try:
                built = build(**kwargs)
            except BaseException:
                if output.folder is not None:
                    output.folder.release()
                raise
            if isinstance(built, ScanJob):
                try:
                    raise typer.Exit(built.run_job(output))
                finally:
                    if output.folder is not None:
                        output.folder.release()
            targets = [built] if not isinstance(built, Sequence) else list(built)
            raise typer.Exit(run_targets(targets, output))

        command.__signature__ = inspect.Signature(  # type: ignore[attr-defined]
            [p.replace(annotation=hints[p.name]) for p in (*own, *shared)]
        )
        command.__annotations__ = {p.name: hints[p.name] for p in (*own, *shared)}
        command.__doc__ = (build.__doc__ or "").rstrip() + "\n\n" + EXIT_CONTRACT
        command.__name__ = f"scan_{name}"
        scan_app.command(name)(command)
        return build

    return register


@scan_command("aws")
def scan_aws_command(
    profile: str | None = typer.Option(None, "--profile", help="AWS profile to use."),
    role_arn: str | None = typer.Option(None, "--role-arn", help="Role to assume before scanning."),
    external_id: str | None = typer.Option(
        None, "--external-id", help="External id for --role-arn (and for --member-role with --organization)."
    ),
    region: list[str] | None = typer.Option(
        None,
        "--region",
        help="Region to scan (repeatable or comma-separated; default: every region enabled for the account).",
    ),
    endpoint_url: str | None = typer.Option(
        None,
        "--endpoint-url",
        help="Send every AWS call to this endpoint (an emulator such as moto's server).",
    ),
    ecr_min_severity: str = typer.Option(
        "high", "--ecr-min-severity", help="Image findings at or above this severity fail the ECR check."
    ),
    ecr_max_finding_age: int = typer.Option(
        30, "--ecr-max-finding-age", min=0, max=3650,
        help="Days an image finding at or above --ecr-min-severity may stay open before it fails.",
    ),
    concurrency: int = typer.Option(
        16, "--concurrency", min=1, max=64,
        help="Concurrent API calls into one account (AWS throttles per account and region).",
    ),
    organization: bool = typer.Option(
        False,
        "--organization",
        help="Scan every active account of the AWS Organization, from its management account "
        "(or a delegated administrator), through --member-role in each.",
    ),
    member_role: str = typer.Option(
        "OrganizationAccountAccessRole", "--member-role", help="Role name assumed in each member account."
    ),
    accounts: str | None = typer.Option(
        None, "--accounts", help="With --organization: only these account ids (comma-separated)."
    ),
    exclude_accounts: str | None = typer.Option(
        None, "--exclude-accounts", help="With --organization: skip these account ids (comma-separated)."
    ),
    account_workers: int = typer.Option(
        8, "--account-workers", min=1, max=64, help="With --organization: accounts collected at once."
    ),
    plan: bool = typer.Option(
        False, "--plan", help="With --organization: record the scan as shards in --db and collect nothing."
    ),
    shard_by: str = typer.Option(
        "account", "--shard-by", help="With --plan or --workers: account, or account-region."
    ),
    emit_job: Path | None = typer.Option(
        None, "--emit-job", help="With --plan: write the Kubernetes Indexed Job that runs the shards."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, max=64,
        help="With --organization: run the shards in this many local processes, then finish.",
    ),
    processes: int | None = typer.Option(
        None, "--processes", min=1, max=64, hidden=True,
        help="Old name of --workers (with --organization); removed in the next release.",
    ),
) -> Target | ScanJob:
    """Scan an AWS account or organisation (or an emulator) and map the results to PCI DSS and ISO 27001."""
    from compliance.findings import Severity
    from compliance.targets.aws import AwsOrganizationTarget, AwsTarget

    if external_id and not (role_arn or organization):
        raise UsageError("--external-id needs --role-arn or --organization: it is passed when assuming roles")
    try:
        ecr_threshold = Severity.parse(ecr_min_severity)
    except ValueError as exc:
        raise UsageError(f"--ecr-min-severity: {exc}") from None
    regions = list(dict.fromkeys(part for value in region or [] for part in _id_list(value)))
    if region and not regions:
        raise UsageError("--region names no region: give a region name, or leave --region out for all")
    common = {
        "profile": profile,
        "role_arn": role_arn,
        "external_id": external_id,
        "regions": regions,
        "endpoint_url": endpoint_url,
        "ecr_min_severity": ecr_threshold,
        "ecr_max_finding_age": ecr_max_finding_age,
        "workers": concurrency,
    }
    if processes is not None:
        if workers is not None and workers != processes:
            raise UsageError("--processes is the old name of --workers: give only --workers")
        workers = processes
    if not organization:
        if workers is not None:
            raise UsageError("--workers N runs an organisation's shards in N processes and needs "
                             "--organization; concurrent API calls into one account are --concurrency N")
        if accounts or exclude_accounts or plan or emit_job:
            raise UsageError("--accounts, --exclude-accounts, --plan and --emit-job need --organization")
        return AwsTarget(**common)
    target = AwsOrganizationTarget(
        **common,
        member_role=member_role,
        accounts=_id_list(accounts),
        exclude_accounts=_id_list(exclude_accounts),
        account_workers=account_workers,
    )
    from compliance.cli.shard import PlanJob, PoolJob
    from compliance.targets.aws_shards import SHARD_BY

    if shard_by not in SHARD_BY:
        raise UsageError(f"--shard-by must be one of {', '.join(SHARD_BY)}, got {shard_by!r}")
    if emit_job is not None and not plan:
        raise UsageError("--emit-job needs --plan")
    if plan and workers:
        raise UsageError("--plan records the shards for other machines; --workers runs them here: pick one")
    if plan:
        return PlanJob(target, shard_by, emit_job)
    if workers:
        return PoolJob(target, shard_by, workers)
    return target


def _id_list(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def register(app: typer.Typer) -> None:
    from compliance.cli import scan_all, scan_web  # noqa: F401 - register `comply scan web` and `all`

    app.add_typer(scan_app, name="scan")
