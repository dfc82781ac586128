"""A throwaway PostgreSQL server for tests and benchmarks.

`start()` runs Debian's `initdb`/`pg_ctl` as the `postgres` user (when run as root) in a temporary
directory, listening only on 127.0.0.1 on a free port with trust authentication; `stop()` removes it.
The `postgres_server` fixture starts one per pytest worker; `postgres_url` gives each test module
a fresh database as a SQLAlchemy URL. Without the binaries the fixtures skip with the reason.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

SUPERUSER = "postgres"


@dataclass(frozen=True)
class Server:
    bindir: Path
    datadir: Path
    port: int
    run_as: str | None

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        return f"host=127.0.0.1 port={self.port} user={SUPERUSER} dbname={database}"


def find_bindir() -> Path | None:
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(Path(p).parent.name), reverse=True
    )
    for path in candidates:
        if (Path(path) / "initdb").exists() and (Path(path) / "pg_ctl").exists():
            return Path(path)
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(server_user: str | None, *cmd: str) -> None:
    full = ["runuser", "-u", server_user, "--", *cmd] if server_user else list(cmd)
    done = subprocess.run(full, capture_output=True, text=True, timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{Path(cmd[0]).name} failed: {(done.stderr or done.stdout).strip()[-500:]}")


def start(fsync: bool = True) -> Server:
    """Initialise and start a server; raise RuntimeError with the reason if that is impossible."""
    bindir = find_bindir()
    if bindir is None:
        raise RuntimeError("PostgreSQL binaries (initdb, pg_ctl) not found; install Debian's postgresql")
    run_as = None
    root = Path(tempfile.mkdtemp(prefix="wallet-pg-"))
    if os.geteuid() == 0:
        try:
            user = pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise RuntimeError("running as root but there is no postgres user to run the server") from None
        os.chown(root, user.pw_uid, user.pw_gid)
        run_as = SUPERUSER
    datadir = root / "data"
    _run(
        run_as,
        str(bindir / "initdb"),
        "-D",
        str(datadir),
        "-U",
        SUPERUSER,
        "--auth=trust",
        "--encoding=UTF8",
        "--no-sync",
    )
    port = _free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={root} -c max_connections=200"
    )
    if not fsync:
        options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
    _run(
        run_as,
        str(bindir / "pg_ctl"),
        "-D",
        str(datadir),
        "-o",
        options,
        "-l",
        str(root / "server.log"),
        "-w",
        "-t",
        "60",
        "start",
    )
    return Server(bindir, datadir, port, run_as)


def stop(server: Server) -> None:
    with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
        _run(
            server.run_as,
            str(server.bindir / "pg_ctl"),
            "-D",
            str(server.datadir),
            "-m",
            "fast",
            "-w",
            "stop",
        )
    shutil.rmtree(server.datadir.parent, ignore_errors=True)


def create_database(server: Server, name: str | None = None) -> str:
    """Create an empty database and return its SQLAlchemy URL."""
    import psycopg

    name = name or f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server.dsn(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return server.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Server]:
    try:
        server = start()
    except RuntimeError as exc:
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture()
def postgres_url(postgres_server: Server) -> str:
    return create_database(postgres_server)
