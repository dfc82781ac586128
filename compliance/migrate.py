"""The store's schema, versioned with Alembic: new stores are created, older ones upgraded, others refused.

`prepare(engine, shown)` runs every time a store is opened, before any collection starts:

- an empty database gets the current schema;
- a store at an older revision (or one written before the store was versioned: exactly the baseline
  tables and no version table) is upgraded in place, and a one-line notice says so;
- a store at a revision this comply does not know (written by a newer comply), a database holding
  tables comply did not create, or a file that is not a database is refused with a `UsageError`.

The check is read-only when the store is current, so a read-only store at the current revision can be
read. Migrating takes a write lock first (SQLite `BEGIN EXCLUSIVE`, a PostgreSQL advisory lock), so two
processes opening a new store at once create it once.

A new table or column comes with a new revision under `compliance/migrations/versions/`; the test
`tests/compliance/test_migrations.py` fails when the models and the migrations disagree.
"""

from __future__ import annotations

import logging
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, Engine, inspect, text

from compliance.errors import UsageError

VERSION_TABLE = "comply_schema_version"
BASELINE = "0001"
BASELINE_TABLES = frozenset({"scans", "evidence_records", "findings", "requirement_results", "scan_waivers",
                             "attestations", "attestation_files"})
_SCRIPTS = str(Path(__file__).parent / "migrations")
_PG_LOCK = 0x636F6D706C79  # "comply": one advisory lock id for every comply process
log = logging.getLogger("comply")


def _config(connection: Connection | None = None) -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", _SCRIPTS)
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def head() -> str:
    return str(ScriptDirectory.from_config(_config()).get_current_head())


def known_revisions() -> set[str]:
    return {rev.revision for rev in ScriptDirectory.from_config(_config()).walk_revisions()}


def _revision(conn: Connection) -> str | None:
    context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def _state(conn: Connection, shown: str) -> tuple[str, str | None]:
    """('current'|'empty'|'unversioned'|'older', revision); raises UsageError for what must be refused."""
    tables = set(inspect(conn).get_table_names())
    if VERSION_TABLE in tables:
        revision = _revision(conn)
        if revision == head():
            return "current", revision
        if revision is None:
            return "empty", None
        if revision not in known_revisions():
            raise UsageError(f"the store {shown} was written by a newer comply (schema revision {revision}, "
                             f"this comply knows up to {head()}): upgrade comply or use another --db")
        return "older", revision
    if not tables:
        return "empty", None
    if tables == BASELINE_TABLES:
        return "unversioned", None
    foreign = sorted(tables - BASELINE_TABLES) or sorted(BASELINE_TABLES - tables)
    raise UsageError(f"{shown} is not a comply store: it holds tables comply did not create "
                     f"({', '.join(foreign[:5])}{' ...' if len(foreign) > 5 else ''}); use another --db")


def _lock(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN EXCLUSIVE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _PG_LOCK})


def prepare(engine: Engine, shown: str) -> str | None:
    """Bring the store to the current schema; returns the notice printed when an older one was upgraded."""
    with engine.connect() as conn:
        state, _ = _state(conn, shown)
        conn.rollback()
        if state == "current":
            return None
        _lock(conn)
        state, revision = _state(conn, shown)  # another process may have migrated it meanwhile
        if state == "current":
            conn.commit()
            return None
        cfg = _config(conn)
        try:
            if state == "unversioned":
                command.stamp(cfg, BASELINE)
                revision = "unversioned"
            command.upgrade(cfg, "head")
        except CommandError as exc:  # pragma: no cover - a broken migration chain is a bug, not input
            raise RuntimeError(f"cannot migrate the store {shown}: {exc}") from exc
        conn.commit()
    if state == "empty":
        return None
    notice = f"upgraded the store {shown} from schema {revision} to {head()}"
    log.warning(notice)
    return notice
