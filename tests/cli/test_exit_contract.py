"""The exit contract: 2 for usage in one line, 4 for a bug in one line (traceback only with --debug)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

import compliance.frameworks
from compliance import __version__
from compliance.cli import app

runner = CliRunner()


def _boom(*_args, **_kwargs):
    raise RuntimeError("catalog exploded\nsecond line")


def test_a_bug_is_one_line_exit_4_with_the_debug_hint(monkeypatch):
    import compliance.cli.frameworks as cli_frameworks

    monkeypatch.setattr(cli_frameworks, "all_frameworks", _boom)
    result = runner.invoke(app, ["frameworks", "list"])
    assert result.exit_code == 4
    assert result.stderr.splitlines() == [
        "comply: internal error: RuntimeError: catalog exploded second line "
        "(run again with --debug for the traceback)"
    ]
    assert "Traceback" not in result.output


@pytest.mark.parametrize("where", [["--debug", "frameworks", "list"], ["frameworks", "list", "--debug"]])
def test_debug_anywhere_shows_the_traceback(monkeypatch, where):
    import compliance.cli.frameworks as cli_frameworks

    monkeypatch.setattr(cli_frameworks, "all_frameworks", _boom)
    result = runner.invoke(app, where)
    assert result.exit_code == 4
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == (
        "comply: internal error: RuntimeError: catalog exploded second line"
    )


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["nosuch"], "comply: error: No such command 'nosuch'. (see 'comply --help')"),
        (["scan", "aws", "--bogus"], "comply scan aws: error: No such option: --bogus"),
        (["scan", "aws", "--workers", "0"], "comply scan aws: error: Invalid value for '--workers'"),
        (["frameworks", "show"], "comply frameworks show: error: Missing argument 'framework'."),
        (["frameworks", "show", "nope"], "comply: error: unknown framework"),
    ],
)
def test_usage_errors_are_one_line_and_exit_2(args, line):
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert result.stderr.startswith(line), result.stderr
    assert result.stdout == ""


def test_an_environment_failure_is_exit_2_not_a_bug(monkeypatch):
    import compliance.cli.frameworks as cli_frameworks

    def disk_gone(*_a, **_k):
        raise PermissionError(13, "Permission denied", "/srv/catalogs")

    monkeypatch.setattr(cli_frameworks, "all_frameworks", disk_gone)
    result = runner.invoke(app, ["frameworks", "list"])
    assert result.exit_code == 2
    assert result.stderr == "comply: error: Permission denied: /srv/catalogs\n"


def test_version_and_help_do_not_import_the_heavy_libraries():
    code = (
        "import sys; from compliance.cli import app; from typer.testing import CliRunner; "
        "r = CliRunner().invoke(app, ['--help']); v = CliRunner().invoke(app, ['--version']); "
        "print(v.output.strip()); "
        "print(sorted(m for m in ('boto3', 'sqlalchemy', 'weasyprint', 'botocore') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == [f"comply {__version__}", "[]"]


def test_shell_completion_is_offered():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0, result.output
    assert "--install-completion" in result.output
    assert "scan        Scan a deployment and gate on the result." in result.output  # the lazy listing
    assert compliance.frameworks  # the catalogs still load through the lazy command
