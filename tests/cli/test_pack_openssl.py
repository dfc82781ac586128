"""The README's commands check an evidence pack with unzip, xxd, openssl and jq alone, exactly as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compliance.cli import app
from compliance.store import Store
from tests.reports.conftest import make_scan

README = Path(__file__).resolve().parents[2] / "README.md"
TOOLS = ("unzip", "xxd", "openssl", "jq", "sha256sum", "bash")


def readme_commands() -> str:
    block = re.search(
        r"<!-- pack-verify[^>]*-->\n```sh\n(.*?)```\n<!-- /pack-verify -->", README.read_text(), re.S
    )
    assert block, "the README lost its pack-verify block"
    return block.group(1)


@pytest.fixture
def pack_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        pytest.skip(f"not installed: {', '.join(missing)}")
    url = f"sqlite:///{tmp_path / 'comply.db'}"
    Store(url).save_scan(make_scan("openssl01"))
    result = CliRunner().invoke(
        app,
        [
            "report",
            "openssl01",
            "--db",
            url,
            "--format",
            "ocsf,csv,evidence",
            "--out",
            str(tmp_path / "comply-out"),
        ],
    )
    assert result.exit_code == 0, result.output
    return tmp_path


def run(commands: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", commands], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def test_the_readme_commands_verify_a_real_pack(pack_dir):
    done = run(readme_commands(), pack_dir)
    assert done.returncode == 0, done.stderr
    assert "Signature Verified Successfully" in done.stdout


def test_the_readme_commands_catch_an_edited_file(pack_dir):
    pack = pack_dir / "comply-out" / "evidence.zip"
    with zipfile.ZipFile(pack) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["findings.csv"] = members["findings.csv"].replace(b"FAIL", b"PASS")
    with zipfile.ZipFile(pack, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    done = run(readme_commands(), pack_dir)
    assert done.returncode != 0
    assert "findings.csv: FAILED" in done.stdout + done.stderr


def test_the_readme_commands_catch_an_edited_manifest(pack_dir):
    pack = pack_dir / "comply-out" / "evidence.zip"
    with zipfile.ZipFile(pack) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["manifest.json"] = members["manifest.json"].replace(b'"scan_id"', b'"scan_id" ', 1)
    with zipfile.ZipFile(pack, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    done = run(readme_commands(), pack_dir)
    assert done.returncode != 0
    assert "Signature Verification Failure" in done.stdout + done.stderr
