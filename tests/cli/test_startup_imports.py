"""Start-up without timing: `comply --version`, `--help` and usage errors, in scan commands too, import
none of the heavy libraries. bench/bench_cli.py measures the resulting ratio to `import typer, rich`;
this test keeps an import at the top of a command module from quietly undoing it.

A bad option *value* (`--workers 0`) is checked by typer's own coercion, which is built on pydantic:
that path imports pydantic (but nothing of the scanner) and is not covered here."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = (
    "boto3", "botocore", "sqlalchemy", "alembic", "weasyprint", "cryptography", "pydantic", "yaml",
    "jinja2", "kubernetes", "sslyze", "requests", "httpx", "lxml", "pypdf", "moto", "controls", "reports",
)

PROBE = """
import json, sys
argv, watched = json.loads(sys.argv[1]), set(json.loads(sys.argv[2]))
sys.argv = ["comply", *argv]
from compliance.cli import app
try:
    app()
except SystemExit as exc:
    code = exc.code
heavy = sorted({m.split(".")[0] for m in sys.modules} & watched)
sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "heavy": heavy}) + "\\n")
"""

COMMANDS = [
    (["--version"], 0),
    (["--help"], 0),
    (["--bogus"], 2),
    (["scan", "--help"], 0),
    (["scan", "aws", "--help"], 0),
    (["scan", "aws", "--bogus"], 2),
    (["scan", "web", "--bogus"], 2),
    (["scan", "kubernetes", "--bogus"], 2),
    (["scan", "all", "--bogus"], 2),
    (["scan", "web"], 2),
    (["shard", "run", "--bogus"], 2),
    (["scan", "finish", "--help"], 0),
]


def _probe(argv: list[str], heavy: tuple[str, ...] = HEAVY) -> dict[str, object]:
    result = subprocess.run([sys.executable, "-c", PROBE, json.dumps(argv), json.dumps(heavy)],
                            capture_output=True, text=True, timeout=120, check=False)
    lines = [line for line in result.stderr.splitlines() if line.startswith("PROBE ")]
    assert lines, result.stderr
    return json.loads(lines[-1].removeprefix("PROBE "))


@pytest.mark.parametrize(("argv", "code"), COMMANDS, ids=[" ".join(a) for a, _ in COMMANDS])
def test_the_answer_imports_no_heavy_library(argv: list[str], code: int) -> None:
    assert _probe(argv) == {"code": code, "heavy": []}


def test_the_probe_sees_heavy_imports_when_a_command_runs(tmp_path) -> None:
    # the same probe on a command that does load the store: the guard above is not vacuous
    probe = _probe(["scans", "list", "--db", f"sqlite:///{tmp_path / 'store.db'}"])
    assert "sqlalchemy" in probe["heavy"]
