"""The store is versioned with Alembic: created, upgraded in place, or refused before any collection."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text

from compliance import migrate
from compliance.errors import UsageError
from compliance.store import Base, Store
from tests.compliance.test_store import sample_scan
from tests.postgres import postgres_server, postgres_url  # noqa: F401 - fixtures


def _url(path) -> str:
    return f"sqlite:///{path}"


def _baseline_store(url: str) -> None:
    """A store as comply wrote it before migrations: the baseline tables, no version table."""
    engine = create_engine(url)
    with engine.begin() as conn:
        cfg = migrate._config(conn)
        from alembic import command

        command.upgrade(cfg, migrate.BASELINE)
        conn.execute(text(f"DROP TABLE {migrate.VERSION_TABLE}"))
    engine.dispose()


def _revision(url: str) -> str | None:
    engine = create_engine(url)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": migrate.VERSION_TABLE})
        rev = context.get_current_revision()
    engine.dispose()
    return rev


def test_a_new_store_is_created_at_the_head_revision(tmp_path):
    url = _url(tmp_path / "new" / "comply.db")
    Store(url)
    assert _revision(url) == migrate.head()


def test_the_models_and_the_migrations_agree(tmp_path):
    """A new table or column without its migration (or the reverse) fails here."""
    url = _url(tmp_path / "c.db")
    Store(url)
    engine = create_engine(url)
    with engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"version_table": migrate.VERSION_TABLE,
                                                     "compare_type": False})
        diffs = [d for d in compare_metadata(ctx, Base.metadata)
                 if not (d[0] == "remove_table" and d[1].name == migrate.VERSION_TABLE)]
    assert diffs == []


def test_an_unversioned_store_is_upgraded_in_place_with_a_notice(tmp_path, caplog):
    url = _url(tmp_path / "old.db")
    _baseline_store(url)
    con = sqlite3.connect(tmp_path / "old.db")
    con.execute("INSERT INTO attestations VALUES ('a1','pci-dss-4.0.1','12.10.1','J','n','2026-01-01',"
                "'2099-01-01','[]')")
    con.commit()
    con.close()
    with caplog.at_level("WARNING", logger="comply"):
        store = Store(url)
    assert _revision(url) == migrate.head()
    assert [r.message for r in caplog.records] == [
        f"upgraded the store {store.url} from schema unversioned to {migrate.head()}"]
    store.save_scan(sample_scan())
    with caplog.at_level("WARNING", logger="comply"):
        caplog.clear()
        Store(url)
    assert caplog.records == []


def test_a_store_from_a_newer_comply_is_refused(tmp_path):
    url = _url(tmp_path / "newer.db")
    Store(url)
    con = sqlite3.connect(tmp_path / "newer.db")
    con.execute(f"UPDATE {migrate.VERSION_TABLE} SET version_num = 'ffff'")
    con.commit()
    con.close()
    with pytest.raises(UsageError, match="written by a newer comply \\(schema revision ffff"):
        Store(url)


def test_a_database_with_foreign_tables_is_refused(tmp_path):
    path = tmp_path / "wallet.db"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE tenants (id TEXT)")
    con.commit()
    con.close()
    with pytest.raises(UsageError, match=r"not a comply store: .* did not create \(tenants\)"):
        Store(_url(path))
    assert set(inspect(create_engine(_url(path))).get_table_names()) == {"tenants"}


@pytest.mark.parametrize(("content", "message"), [
    (b"hello, this is a text file\n" * 10, "not a comply store \\(not an SQLite database\\)"),
    (b"SQLite format 3\x00\x10\x00", "truncated"),
    (b"\x00\xff" * 300, "not an SQLite database"),
])
def test_a_file_that_is_not_a_store_is_refused_and_left_alone(tmp_path, content, message):
    path = tmp_path / "comply.db"
    path.write_bytes(content)
    with pytest.raises(UsageError, match=message):
        Store(_url(path))
    assert path.read_bytes() == content


def test_a_store_cut_short_after_its_header_is_refused(tmp_path):
    path = tmp_path / "comply.db"
    store = Store(_url(path))
    store.save_scan(sample_scan())
    store.engine.dispose()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(UsageError, match=r"comply\.db"):
        Store(_url(path)).list_scans()


def test_a_directory_as_the_store_is_refused(tmp_path):
    with pytest.raises(UsageError, match="is a directory"):
        Store(_url(tmp_path))


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores file modes")
def test_a_read_only_store_is_readable_but_refused_for_writing(tmp_path):
    path = tmp_path / "ro" / "comply.db"
    Store(_url(path)).save_scan(sample_scan())
    path.chmod(0o444)
    path.parent.chmod(0o555)
    try:
        store = Store(_url(path))
        assert store.list_scans()
        with pytest.raises(UsageError, match="cannot write to the store"):
            store.check_writable()
    finally:
        path.parent.chmod(0o755)


def test_two_processes_creating_one_store_at_once_both_succeed(tmp_path):
    url = _url(tmp_path / "race.db")
    code = f"from compliance.store import Store; Store({url!r}).list_scans()"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(4)]
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    assert _revision(url) == migrate.head()


def test_postgres_stores_are_created_upgraded_and_refused_alike(postgres_url, caplog):  # noqa: F811
    _baseline_store(postgres_url)
    with caplog.at_level("WARNING", logger="comply"):
        store = Store(postgres_url)
    assert "from schema unversioned" in caplog.text
    store.save_scan(sample_scan())
    assert _revision(postgres_url) == migrate.head()
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text(f"UPDATE {migrate.VERSION_TABLE} SET version_num = 'ffff'"))
    engine.dispose()
    with pytest.raises(UsageError, match="newer comply"):
        Store(postgres_url)
