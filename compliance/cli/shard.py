"""Scans run as shards: plan, run one shard, finish, status; and the local process pool.

`comply scan aws --organization --plan` records the shards; `comply shard run SCAN --index I` runs
one (a Kubernetes Indexed Job's pod gives I in JOB_COMPLETION_INDEX); the last shard to commit
finishes the scan, or `comply scan finish SCAN` does. `comply scan aws --organization --workers N` runs
the same shard command in N local processes (processes, so one account's memory cannot take the others
down) and finishes.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from compliance.cli import scan as scan_cli
from compliance.errors import UsageError

if TYPE_CHECKING:
    from rich.console import Console

SHARD_RETRIES = 2
"""A local shard that ends badly (not a usage error) is run again this many times."""

shard_app = typer.Typer(help="Run one shard of a planned scan.", no_args_is_help=True)


def _store(db: str | None) -> Any:
    from compliance.store import Store

    return Store(db)


def _output_record(output: scan_cli.Output) -> dict[str, Any]:
    """The output options as the finishing step will need them again, possibly on another machine."""
    return {
        "out": str(output.out_dir) if output.out_dir is not None else "-",
        "formats": ",".join(output.formats),
        "fail_on": output.fail_on.name.lower() if output.fail_on is not None else "none",
        "frameworks": list(output.frameworks),
        "waivers": str(output.waivers_path) if output.waivers_path else None,
        "signing_key": str(output.signing_key) if output.signing_key else None,
        "organisation": output.organisation,
        "preparer": output.preparer,
        "timeout": output.timeout,
    }


def _remote_store_refused(url: str, where: str) -> None:
    if url.startswith("sqlite"):
        raise UsageError(f"{where} needs a store every machine reaches: give --db postgresql+psycopg://... "
                         "(a SQLite file serves one machine only: use --workers N there)")


@dataclass
class PlanJob:
    """`--plan`: list the accounts, record one shard per unit, print the scan id; collect nothing."""

    target: Any
    shard_by: str
    emit_job: Path | None = None
    image: str = "wallet-comply:latest"

    def run_job(self, output: scan_cli.Output) -> int:
        from compliance.targets.aws_shards import plan_organization

        if output.streaming:
            raise UsageError("a planned scan writes its outputs when it finishes: give --out DIR, not -")
        if self.emit_job is not None:
            _remote_store_refused(output.store.url, "--emit-job")
        count = plan_organization(self.target, output.store, output.scan_id, self.shard_by,
                                  _output_record(output))
        print(f"planned scan {output.scan_id}: {count} shards by {self.shard_by} in {output.store.url}")
        if self.emit_job is not None:
            from compliance.kubernetes_jobs import write_indexed_job

            write_indexed_job(self.emit_job, output.scan_id, count, image=self.image)
            print(f"wrote {self.emit_job}: an Indexed Job with completions={count}")
        return 0


@dataclass
class PoolJob:
    """`--workers N`: plan, run every shard as its own `comply shard run` process, then finish."""

    target: Any
    shard_by: str
    processes: int

    def run_job(self, output: scan_cli.Output) -> int:
        from rich.console import Console

        from compliance import shards
        from compliance.targets.aws_shards import plan_organization

        count = plan_organization(self.target, output.store, output.scan_id, self.shard_by,
                                  _output_record(output))
        err = Console(stderr=True)
        err.print(f"scan {output.scan_id}: {count} shards in {self.processes} processes", markup=False)
        _preload(shards.plan(output.store, output.scan_id).request["regions"])
        peaks = _run_pool(output.store.url, output.scan_id, count, self.processes, err)
        if output.folder is not None:
            output.folder.release()
        for shard in shards.shards(output.store, output.scan_id, results=False):
            if shard.state != shards.DONE:
                shards.fail(output.store, output.scan_id, shard.index, None,
                            shard.reason or f"still {shard.state} after {SHARD_RETRIES + 1} attempts")
        code = finish_planned(output.store, output.scan_id, Console(stderr=output.streaming))
        err.print(_peak_line(peaks), markup=False, highlight=False, soft_wrap=True)
        return code


def _comply() -> list[str]:
    found = shutil.which("comply", path=str(Path(sys.executable).parent)) or shutil.which("comply")
    return [found] if found else [sys.executable, "-m", "compliance"]


def _preload(regions: list[str]) -> None:
    """Import and parse, once, what every shard process needs: the collectors, the checks and the API
    models. Forked children share it, where a fresh `comply` process spent about three seconds of CPU
    on it per shard (on two cores, most of a pool of four's time)."""
    from compliance.collect.aws.session import warm_models
    from compliance.collect.aws.spec import AWS_SPEC
    from compliance.engine import selected_checks
    from compliance.targets import aws_shards  # noqa: F401 - imported for the children

    selected_checks("aws")
    warm_models({c.service for c in AWS_SPEC} | {"sts", "organizations"}, regions[0] if regions else None)


def _start_shard(scan_id: str, index: int, env: dict[str, str]) -> int:
    """A process running `comply shard run SCAN --index I --no-finish --quiet`: forked from this one
    (it inherits the preloaded modules) where the system forks and this process runs no other thread
    whose locks the child could inherit held (a test runner's in-process servers), else a new `comply`
    process. Its pid."""
    argv = ["shard", "run", scan_id, "--index", str(index), "--no-finish", "--quiet"]
    if not hasattr(os, "fork") or threading.active_count() > 1:
        # our own command line, no shell
        return subprocess.Popen([*_comply(), *argv], env=env,  # noqa: S603 # nosec B603
                                stdout=subprocess.DEVNULL).pid
    pid = os.fork()
    if pid:
        return pid
    code = 4
    try:  # pragma: no cover - the child's coverage is not collected; the shard tests check what it does
        from typer.main import get_command

        from compliance.cli import app

        os.environ.clear()
        os.environ.update(env)
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        # the process's own descriptors, as a new process would have (a test runner swaps sys.stderr)
        sys.stdout = open(1, "w", closefd=False)  # noqa: SIM115
        sys.stderr = open(2, "w", closefd=False)  # noqa: SIM115
        code = get_command(app).main(argv, prog_name="comply", standalone_mode=False)
    except BaseException as exc:  # the command reports its own errors; this is what escaped it
        os.write(2, f"comply: shard {index} ended: {type(exc).__name__}\n".encode())
    finally:
        os._exit(code)


def _run_pool(db_url: str, scan_id: str, count: int, processes: int, err: Console) -> list[float]:
    """Keep up to `processes` shard processes running; retry a shard that ends badly. Returns the peak
    memory (MB) of every shard process that ran, reaped with wait4 to read it."""
    env = {**os.environ, "COMPLY_DB": db_url}
    env.pop("JOB_COMPLETION_INDEX", None)  # each child is told its index
    queue = [(i, 0) for i in range(count)]
    running: dict[int, tuple[int, int]] = {}
    peaks: list[float] = []
    sys.stdout.flush()
    sys.stderr.flush()
    while queue or running:
        while queue and len(running) < processes:
            index, tries = queue.pop(0)
            running[_start_shard(scan_id, index, env)] = (index, tries)
        time.sleep(0.05)
        for child in list(running):
            pid, status, usage = os.wait4(child, os.WNOHANG)
            if pid == 0:
                continue
            code = os.waitstatus_to_exitcode(status)
            peaks.append(usage.ru_maxrss / 1024)
            index, tries = running.pop(child)
            if code not in (0, 2) and tries < SHARD_RETRIES:
                err.print(f"shard {index} ended with exit {code}: running it again", markup=False)
                queue.append((index, tries + 1))
    return peaks


def _peak_line(peaks: list[float]) -> str:
    import resource

    ordered = sorted(peaks) or [0.0]
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return (f"peak memory: shard processes {ordered[len(ordered) // 2]:.0f} MB median, {ordered[-1]:.0f} MB "
            f"largest ({len(peaks)} runs); planning and finishing {own:.0f} MB")


def finish_planned(store: Any, scan_id: str, console: Console, *, again: bool = False) -> int:
    """Assemble, assess, store, render and seal a planned scan, once; returns its exit code."""
    from compliance import shards
    from compliance.targets.aws_shards import assemble

    plan = shards.plan(store, scan_id)
    if not shards.claim_finish(store, scan_id, again=again):
        console.print(f"scan {scan_id} is already {plan.state}; `comply scan finish {scan_id} --again` "
                      "takes over a finishing step that died", markup=False)
        return 0
    for shard in shards.shards(store, scan_id, results=False):
        if shard.state != shards.DONE:
            shards.fail(store, scan_id, shard.index, None, shard.reason or
                        f"did not complete: {shard.state} at attempt {shard.attempt} when the scan finished")
    recorded = plan.output
    output = scan_cli.prepare_output(
        recorded["out"], recorded["formats"], recorded["fail_on"], store.url, recorded["frameworks"],
        Path(recorded["waivers"]) if recorded["waivers"] else None,
        Path(recorded["signing_key"]) if recorded["signing_key"] else None, recorded["organisation"],
        timeout=recorded["timeout"], scan_id=scan_id, preparer=recorded.get("preparer"))
    scan_cli.claim(output)
    try:
        scan = assemble(store, scan_id)
        ended = shards.shards(store, scan_id, results=False)
        scan.finished_at = max((s.finished_at or "" for s in ended), default=None)
        code = scan_cli.finish(scan, output, console)
    finally:
        if output.folder is not None:
            output.folder.release()
    shards.finished(store, scan_id)
    failed = scan.scope["shards"]["failed"]
    if failed and code == scan_cli.EXIT_OK:
        code = scan_cli.EXIT_INCOMPLETE
    if failed:
        console.print(f"partial: {len(failed)} shard(s) did not complete; their accounts are listed as not "
                      "assessed and their checks say ERROR", markup=False)
    return code


DB = typer.Option(None, "--db", help="Store URL (default: COMPLY_DB or the local SQLite file).")


@shard_app.command("run")
def run_command(
    ctx: typer.Context,
    scan_id: str = typer.Argument(..., help="The planned scan."),
    index: int | None = typer.Option(
        None, "--index", min=0, envvar="JOB_COMPLETION_INDEX",
        help="Which shard (default: JOB_COMPLETION_INDEX, set by a Kubernetes Indexed Job)."),
    db: str | None = DB,
    no_finish: bool = typer.Option(False, "--no-finish", help="Do not finish the scan after the last shard."),
    quiet: bool = typer.Option(False, "--quiet", help="Print nothing but errors."),
) -> None:
    """Collect one shard, evaluate it and commit its result in one transaction (fenced by attempt)."""
    from rich.console import Console

    from compliance import shards
    from compliance.targets.aws_shards import run_shard

    if index is None:
        raise UsageError("which shard? give --index I or set JOB_COMPLETION_INDEX")
    store = _store(db)
    from typer import _click as click  # typer vendors click

    if ctx.get_parameter_source("index") is click.core.ParameterSource.ENVIRONMENT:
        _remote_store_refused(store.url, "a shard of a Kubernetes Indexed Job (JOB_COMPLETION_INDEX is set)")
    outcome = run_shard(store, scan_id, index)
    console = Console(stderr=True, quiet=quiet)
    if not outcome.committed:
        console.print(f"shard {index} attempt {outcome.attempt} was overtaken by a newer attempt: "
                      "nothing committed", markup=False)
        raise typer.Exit(0)
    reached = "" if outcome.reached else " (account not reached: its checks say ERROR)"
    console.print(f"shard {index} attempt {outcome.attempt} committed: {outcome.evidence} evidence records, "
                  f"{outcome.findings} findings{reached}", markup=False)
    if not no_finish and shards.all_done(store, scan_id):
        raise typer.Exit(finish_planned(store, scan_id, Console(quiet=quiet)))


def finish_command(
    scan_id: str = typer.Argument(..., help="The planned scan."),
    db: str | None = DB,
    again: bool = typer.Option(False, "--again", help="Take over from a finishing step that died."),
) -> None:
    """Finish a planned scan: results, reports and the signed pack; shards not done make it partial."""
    from rich.console import Console

    raise typer.Exit(finish_planned(_store(db), scan_id, Console(), again=again))


def status_command(
    scan_id: str = typer.Argument(..., help="The planned scan."),
    db: str | None = DB,
    format: str = typer.Option("table", "--format", help="table or json."),
) -> None:
    """Every shard of a planned scan: pending, running (since, attempt), done, failed (reason)."""
    import json

    from rich.console import Console
    from rich.table import Table

    from compliance import shards

    store = _store(db)
    plan = shards.plan(store, scan_id)
    rows = shards.shards(store, scan_id, results=False)
    if format == "json":
        print(json.dumps({"scan_id": scan_id, "state": plan.state, "shards": [
            {"index": s.index, "account": s.unit.account, "name": s.unit.name, "region": s.unit.region,
             "state": s.state, "attempt": s.attempt, "started_at": s.started_at, "finished_at": s.finished_at,
             "reason": s.reason} for s in rows]}, indent=2))
        return
    if format != "table":
        raise UsageError(f"--format must be table or json, got {format!r}")
    table = Table(title=f"scan {scan_id}: {plan.state}", title_justify="left")
    for column in ("shard", "account", "region", "state", "attempt", "since", "reason"):
        table.add_column(column)
    for s in rows:
        table.add_row(str(s.index), f"{s.unit.account} {s.unit.name}", s.unit.region or "all", s.state,
                      str(s.attempt), s.started_at or "", s.reason or "")
    Console().print(table)


def register(app: typer.Typer) -> None:
    scan_cli.scan_app.command("finish")(finish_command)
    scan_cli.scan_app.command("status")(status_command)
    app.add_typer(shard_app, name="shard")
