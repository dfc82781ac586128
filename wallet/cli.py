"""`wallet`: serve the API and run operator tasks (schema, tenants, clients, keys, audit)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker
from typer.core import TyperGroup

from wallet import __version__, audit, ledger_check, migrate, topups
from wallet.acquirer import make_acquirer
from wallet.admin import AdminError, create_client, create_tenant, rotate_signing_key
from wallet.anchors import AnchorError, AuditKey, anchor_log
from wallet.config import Config, ConfigError
from wallet.db import admin_session, make_engine, run_in_transaction, session_factory
from wallet.keys import KeyFailure, make_kek

T = TypeVar("T")


class _OneLineErrors(TyperGroup):
    def invoke(self, ctx):  # type: ignore[no-untyped-def]
        try:
            return super().invoke(ctx)
        except (ConfigError, AdminError, KeyFailure, AnchorError) as exc:
            typer.echo(f"wallet: error: {exc}", err=True)
            raise typer.Exit(2) from None
        except (OperationalError, ProgrammingError):
            typer.echo(
                "wallet: error: the database is unreachable or not initialised; run `wallet db upgrade`",
                err=True,
            )
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_OneLineErrors,
    name="wallet",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="A multi-tenant digital wallet built the way PCI DSS requires.",
)
db_app = typer.Typer(no_args_is_help=True, help="Database schema.")
tenant_app = typer.Typer(no_args_is_help=True, help="Tenants.")
client_app = typer.Typer(no_args_is_help=True, help="OAuth2 clients.")
keys_app = typer.Typer(no_args_is_help=True, help="Keys.")
audit_app = typer.Typer(no_args_is_help=True, help="The audit log.")
ledger_app = typer.Typer(no_args_is_help=True, help="The ledger.")
topups_app = typer.Typer(no_args_is_help=True, help="Top-ups.")
acquirer_app = typer.Typer(no_args_is_help=True, help="The test acquirer.")
for sub, name in (
    (db_app, "db"),
    (tenant_app, "tenant"),
    (client_app, "client"),
    (keys_app, "keys"),
    (audit_app, "audit"),
    (ledger_app, "ledger"),
    (topups_app, "topups"),
    (acquirer_app, "acquirer"),
):
    app.add_typer(sub, name=name)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"wallet {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """Settings come from WALLET_* variables and the YAML file named by WALLET_CONFIG."""


def _engine(config: Config) -> Engine:
    config.home_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    return make_engine(config.db_url)


def _require_current_schema(url: str) -> None:
    """Refuse to start on a database that is missing or behind, without creating it: connecting to a
    SQLite path that does not exist would make an empty file there."""
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).is_file():
        raise ConfigError(f"no database at {url.removeprefix('sqlite:///')}; run `wallet db upgrade` first")
    engine = make_engine(url)
    try:
        if not migrate.is_current(engine):
            raise ConfigError("the database schema is not current; run `wallet db upgrade` first")
    finally:
        engine.dispose()


def _sessions(config: Config) -> sessionmaker[Session]:
    return session_factory(_engine(config))


def _operate(config: Config, work: Callable[[Session], T]) -> T:
    """Run an audited operator action in one transaction, then seal its audit entries and anchor the
    chain at once."""
    key = AuditKey.load(config.audit_key_path, create=True)
    with admin_session(_sessions(config)) as session:
        result = run_in_transaction(session, work)
        audit.seal_all(session, key)
        try:
            audit.anchor(session, key, anchor_log(config.anchor_location, region=config.aws_region))
        except audit.AnchorConflict as exc:
            typer.echo(f"wallet: warning: audit chain not anchored: {exc}", err=True)
        session.commit()
    return result


def _print(data: dict[str, Any]) -> None:
    typer.echo(json.dumps(data, indent=2))


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Create or upgrade the schema to the latest revision."""
    engine = _engine(Config.load())
    migrate.upgrade(engine)
    typer.echo(f"database at revision {migrate.current_revision(engine)}")


@tenant_app.command("create")
def tenant_create(
    name: str, domain: str = typer.Option(..., "--domain", help="Host name of the tenant's API.")
) -> None:
    """Create a tenant and its first client (with every scope); prints the credentials once."""
    creds = _operate(Config.load(), lambda s: create_tenant(s, name, domain))
    _print(
        {
            "tenant_id": creds.tenant_id,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scopes": list(creds.scopes),
        }
    )


@client_app.command("create")
def client_create(
    tenant: str, scopes: str = typer.Option(..., "--scopes", help="Comma- or space-separated scopes.")
) -> None:
    """Create another client for TENANT (its id or name)."""
    creds = _operate(Config.load(), lambda s: create_client(s, tenant, scopes))
    _print(
        {
            "tenant_id": creds.tenant_id,
            "client_id": creds.client_id,
            "client_secret": creds.client_secret,
            "scopes": list(creds.scopes),
        }
    )


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Start signing tokens with a new key; tokens signed by the old key stay valid until they expire."""
    config = Config.load()
    kek = make_kek(config.key_path, config.kms_key_id, config.aws_region)
    kid = _operate(config, lambda s: rotate_signing_key(s, kek))
    _print({"kid": kid, "key_source": kek.source})


@audit_app.command("verify")
def audit_verify() -> None:
    """Check the audit chain, every entry's MAC and that the chain reaches the newest anchor outside the
    database; exit 1 naming what was edited, forged, deleted, emptied or rolled back. Reads only."""
    config = Config.load()
    key = AuditKey.load(config.audit_key_path)
    with admin_session(_sessions(config)) as session:
        verdict = audit.verify(session, key, anchor_log(config.anchor_location, region=config.aws_region))
    if not verdict.ok:
        typer.echo(f"audit log TAMPERED: {verdict.problem}", err=True)
        raise typer.Exit(1)
    reach = (
        f"reaching the newest anchor (entry {verdict.anchor.pos}, {verdict.anchor.at})"
        if verdict.anchor
        else "no anchor written yet"
    )
    pending = f"; {verdict.unsealed} entries not sealed yet" if verdict.unsealed else ""
    typer.echo(f"audit log intact: {verdict.entries} entries, {reach}{pending}")


@ledger_app.command("verify")
def ledger_verify() -> None:
    """Check balances against postings, each movement's postings against zero, and each credited top-up
    against an approved, unvoided charge; exit 1 naming what disagrees."""
    with admin_session(_sessions(Config.load())) as session:
        found = list(ledger_check.problems(session))
        counts = ledger_check.counts(session)
    if found:
        for line in found:
            typer.echo(f"ledger DISAGREES: {line}", err=True)
        raise typer.Exit(1)
    typer.echo("ledger consistent: " + ", ".join(f"{n} {what}" for what, n in counts.items()))


@topups_app.command("reconcile")
def topups_reconcile(
    older_than: float = typer.Option(
        None, "--older-than", help="Seconds after which a pending top-up with no charge fails (topup_grace)."
    ),
) -> None:
    """Settle every pending top-up against the acquirer (credit, decline, or fail when no charge exists)
    and finish interrupted voids. Safe at any time, concurrently with traffic."""
    config = Config.load()
    acquirer = make_acquirer(config.acquirer, config.acquirer_url, config.acquirer_timeout)
    grace = config.topup_grace if older_than is None else older_than
    with admin_session(_sessions(config)) as session:
        done = topups.reconcile(acquirer, session, grace=grace, actor="operator")
    typer.echo(f"reconciled {done.line()}")


@acquirer_app.command("serve")
def acquirer_serve(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8700, help="TCP port."),
    fail_before: float = typer.Option(0.0, help="Probability of a 503 before processing a charge."),
    fail_after: float = typer.Option(0.0, help="Probability of dropping the connection after charging."),
    slow: float = typer.Option(0.0, help="Probability of answering a charge only after --delay seconds."),
    delay: float = typer.Option(5.0, help="Seconds a slow answer waits."),
) -> None:
    """Serve the test acquirer over HTTP (approvals as the in-process test acquirer), with faults."""
    from wallet.acquirer_server import Faults, serve

    faults = Faults()
    try:
        faults.update({"fail_before": fail_before, "fail_after": fail_after, "slow": slow, "delay": delay})
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    typer.echo(f"acquirer serving http://{host}:{port}", err=True)
    serve(host, port, faults)


@app.command("serve")
def serve_cmd(
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8443, help="TCP port."),
    tls_cert: Annotated[Path | None, typer.Option("--tls-cert", help="PEM certificate chain.")] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="PEM private key.")] = None,
    self_signed: bool = typer.Option(False, "--self-signed", help="Make a certificate at start-up."),
    workers: int = typer.Option(
        0, help="Worker processes; 0 (the default) runs one per CPU this process may use."
    ),
    threads: int = typer.Option(8, help="Threads per worker."),
    access_log: bool = typer.Option(False, "--access-log", help="Also write gunicorn's access log."),
) -> None:
    """Serve the API over HTTPS (TLS 1.2 or later) with gunicorn."""
    from wallet import serve as serving
    from wallet.app import create_app

    config = Config.load()
    if workers < 0 or threads < 1:
        raise ConfigError("--workers must be 0 or more and --threads 1 or more")
    workers = workers or serving.usable_cpus()
    if self_signed == (tls_cert is not None or tls_key is not None):
        raise ConfigError("give either --tls-cert and --tls-key, or --self-signed")
    if not self_signed and (
        tls_cert is None or tls_key is None or not tls_cert.is_file() or not tls_key.is_file()
    ):
        raise ConfigError("--tls-cert and --tls-key must both name readable files")
    _require_current_schema(config.db_url)  # before anything is written to the home
    if self_signed:
        tls_cert, tls_key = serving.self_signed(config.home_dir / "tls", ("localhost", host))
    typer.echo(f"wallet serving https://{host}:{port} (TLS 1.2+)", err=True)
    flask_app = create_app(config)
    options = serving.gunicorn_options(host, port, tls_cert, tls_key, workers, threads, access_log=access_log)
    options.update(serving.housekeeping_hooks(flask_app))
    serving.serve(flask_app, options)


def main() -> None:
    app()
