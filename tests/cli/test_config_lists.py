"""Config files take YAML lists as a user writes them: for an option of several values, and for one
written as a comma-separated value on the command line; a list for an option of one value is refused
with its line. Values are read by the real `comply scan aws` command's parser."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from compliance import config
from compliance.cli import app
from compliance.cli.scan import BUILDERS, _option_names, output_options, scan_app
from compliance.cli.scan_all import _argv
from compliance.demo import free_port
from compliance.errors import UsageError

runner = CliRunner()


def _command(name: str):  # type: ignore[no-untyped-def]
    from compliance.cli import scan_all, scan_kubernetes, scan_web  # noqa: F401 - register every target

    group = typer.main.get_group(scan_app)
    return group.get_command(group.make_context("scan", ["--help"], resilient_parsing=True), name)


def _apply(tmp_path: Path, text: str, target: str = "aws") -> dict[str, object]:
    path = tmp_path / "comply.yaml"
    path.write_text(text)
    command = _command(target)
    ctx = command.make_context(f"scan {target}", [])
    with ctx:
        return config.apply(ctx, dict(ctx.params), target, path, _option_names(output_options),
                            {n: _option_names(b) for n, b in BUILDERS.items()})


def test_lists_for_options_of_several_values_and_for_comma_separated_ones(tmp_path):
    values = _apply(tmp_path, """\
format: [ocsf, sarif]
checks:
  - aws.s3.bucket_encrypted
  - aws.iam.root_mfa
exclude_checks: [aws.kms.key_rotation]
services: [s3, iam]
framework: [pci-dss-4.0.1]
aws:
  region: [eu-west-1, us-east-1]
  accounts: [111111111111, 222222222222]
""")
    assert values["format"] == "ocsf,sarif"
    assert values["checks"] == ["aws.s3.bucket_encrypted", "aws.iam.root_mfa"]
    assert values["exclude_checks"] == ["aws.kms.key_rotation"]
    assert values["services"] == ["s3", "iam"]
    assert values["framework"] == ["pci-dss-4.0.1"]
    assert values["region"] == ["eu-west-1", "us-east-1"]
    assert values["accounts"] == "111111111111,222222222222"


def test_one_value_for_an_option_of_several_and_the_comma_form_still_work(tmp_path):
    values = _apply(tmp_path, "format: ocsf,csv\nchecks: aws.s3.bucket_encrypted\n"
                              "aws:\n  region: eu-west-1\n")
    assert values["format"] == "ocsf,csv"
    assert values["checks"] == ["aws.s3.bucket_encrypted"]
    assert values["region"] == ["eu-west-1"]


def test_kubernetes_lists(tmp_path):
    text = ("kubernetes:\n  namespace: [payments, ledger]\n"
            "  approved_registry: ['*.dkr.ecr.*.amazonaws.com', ghcr.io/acme]\n")
    values = _apply(tmp_path, text, "kubernetes")
    assert values["namespace"] == ["payments", "ledger"]
    assert values["approved_registry"] == ["*.dkr.ecr.*.amazonaws.com", "ghcr.io/acme"]


@pytest.mark.parametrize(("text", "message"), [
    ("format: ocsf\nfail_on: [high, low]\n", "line 2: fail_on: takes one value, got a list of 2"),
    ("out: [a, b]\n", "line 1: out: takes one value, got a list of 2"),
    ("timeout: [5]\n", "line 1: timeout: takes one value, got a list of 1"),
    ("aws:\n  workers: 4\n  profile: [dev, prod]\n", "line 3: profile: takes one value, got a list of 2"),
    ("aws:\n  region: [eu-west-1, [us-east-1]]\n", "line 2: region: expected a value, got ['us-east-1']"),
    ("checks: [aws.s3.bucket_encrypted, {id: x}]\n", "line 1: checks: expected a value, got {'id': 'x'}"),
    ("format: {ocsf: true}\n", "line 1: format: expected a value, got a mapping"),
])
def test_a_list_for_an_option_of_one_value_is_refused_with_its_line(tmp_path, text, message):
    with pytest.raises(UsageError, match="config file .*comply.yaml " + re.escape(message)):
        _apply(tmp_path, text)


@pytest.mark.parametrize(("text", "message"), [
    ("fail_on: [high, low]\n", "line 1: fail_on: takes one value, got a list of 2"),
    ("aws:\n  endpoint_url: [http://a.test, http://b.test]\n", "line 2: endpoint_url: takes one value"),
])
def test_through_the_command_line_one_line_and_exit_2(tmp_path, monkeypatch, text, message):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "comply.yaml").write_text(text)
    result = runner.invoke(app, ["scan", "aws", "--region", "us-east-1", "--db",
                                 f"sqlite:///{tmp_path / 'c.db'}", "--out", str(tmp_path / "out")])
    assert result.exit_code == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.output


def test_accepted_lists_get_past_validation_to_the_endpoint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    dead = f"http://127.0.0.1:{free_port()}"
    (tmp_path / "comply.yaml").write_text(
        f"format: [ocsf, sarif]\nchecks: [aws.s3.bucket_encrypted]\naws:\n  region: [eu-west-1, us-east-1]\n"
        f"  endpoint_url: {dead}\n")
    result = runner.invoke(app, ["scan", "aws", "--db", f"sqlite:///{tmp_path / 'c.db'}",
                                 "--out", str(tmp_path / "out")],
                           env={"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"})
    assert result.exit_code == 2
    assert f"cannot reach the AWS endpoint {dead}" in result.stderr, result.stderr


def test_scan_all_sections_take_lists_the_same_way(tmp_path):
    command = _command("aws")
    where = "config file comply.yaml (aws:)"
    argv = _argv(command, {"region": (["eu-west-1", "us-east-1"], 2),
                           "accounts": ([111111111111, 222222222222], 3),
                           "organization": (True, 4)}, where)
    params = command.make_context("scan aws", argv).params
    assert params["region"] == ["eu-west-1", "us-east-1"]
    assert params["accounts"] == "111111111111,222222222222"
    refused = f"{where} line 5: profile: takes one value, got a list of 2"
    with pytest.raises(UsageError, match=re.escape(refused)):
        _argv(command, {"profile": (["dev", "prod"], 5)}, where)


def test_scan_all_manifest_paths_are_the_kubernetes_arguments(tmp_path):
    command = _command("kubernetes")
    manifests = tmp_path / "deploy"
    manifests.mkdir()
    argv = _argv(command, {"paths": ([str(manifests)], 2), "namespace": (["payments"], 3)}, "config")
    params = command.make_context("scan kubernetes", argv).params
    assert [str(p) for p in params["paths"]] == [str(manifests)]
    assert params["namespace"] == ["payments"]
