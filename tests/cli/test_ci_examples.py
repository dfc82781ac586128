"""docs/ci: the workflow files parse, and every comply command in them is accepted as written."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from compliance.cli import app
from compliance.demo import free_port

DOCS = Path(__file__).resolve().parents[2] / "docs" / "ci"


def comply_lines(path: Path) -> list[str]:
    text = path.read_text().replace("\\\n", " ")
    return [m.group(0).strip() for m in re.finditer(r"comply scan [^\n#]+", text)]


@pytest.mark.parametrize("name", ["github-actions.yml", "gitlab-ci.yml"])
def test_the_example_parses_and_its_scan_command_is_valid(name, tmp_path, monkeypatch):
    data = yaml.safe_load((DOCS / name).read_text())
    assert isinstance(data, dict) and data
    lines = comply_lines(DOCS / name)
    assert lines
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COMPLY_DB", f"sqlite:///{tmp_path / 'comply.db'}")
    for line in lines:
        args = [*shlex.split(line)[1:], "--endpoint-url", f"http://127.0.0.1:{free_port()}"]
        result = CliRunner().invoke(app, args)
        # every option parsed and checked: only the (absent) AWS endpoint stops it, before collection
        assert result.exit_code == 2 and "cannot reach the AWS endpoint" in result.stderr, (
            line,
            result.output,
        )


def test_the_github_workflow_uploads_sarif_keeps_the_pack_and_gates():
    workflow = yaml.safe_load((DOCS / "github-actions.yml").read_text())
    steps = workflow["jobs"]["comply"]["steps"]
    uses = [s.get("uses", "") for s in steps]
    assert any(u.startswith("github/codeql-action/upload-sarif") for u in uses)
    assert any(u.startswith("actions/upload-artifact") for u in uses)
    assert "exit 1" in steps[-1]["run"]


def test_the_gitlab_job_reports_junit():
    job = yaml.safe_load((DOCS / "gitlab-ci.yml").read_text())["comply"]
    assert job["artifacts"]["reports"]["junit"] == "comply-out/junit.xml"
