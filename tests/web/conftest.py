from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compliance.cli import app
from compliance.demo_wallet import served_wallet
from compliance.store import Store
from tests.web.broken_app import serve_broken

runner = CliRunner()


def scan_web(out: Path, *args: str):
    """`comply scan web` through the CLI; returns (result, stored scan or None, ocsf findings)."""
    db = f"sqlite:///{out / 'comply.db'}"
    result = runner.invoke(app, ["scan", "web", "--out", str(out), "--db", db, "--format", "ocsf", *args])
    findings_file = out / "findings.ocsf.json"
    findings = json.loads(findings_file.read_text()) if findings_file.exists() else []
    store = Store(db)
    scan_id = store.latest_scan_id() if result.exit_code in (0, 1, 3) else None
    return result, (store.load_scan(scan_id) if scan_id else None), findings


@pytest.fixture(scope="session")
def broken_url():
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    with serve_broken() as url:
        yield url


@pytest.fixture(scope="session")
def wallet_served(tmp_path_factory):
    with served_wallet(tmp_path_factory.mktemp("wallet-home")) as served:
        yield served
