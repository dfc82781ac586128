"""Bad and awkward inputs across every command: exit 2, one line naming the problem, no traceback,
and nothing changed in the store or the output folder that were there before.

Every scan case points at a closed loopback port, so an input that slipped past validation would show
up as "cannot reach the AWS endpoint" instead of the expected line (and nothing is ever collected).
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from compliance import keys
from compliance.cli import app
from compliance.demo import free_port
from compliance.store import Store
from tests.compliance.test_store import sample_scan

runner = CliRunner()
DEAD = "{dead}"
SCAN = ["scan", "aws", "--endpoint-url", DEAD, "--region", "us-east-1"]
GOOD_WAIVER = ("- {check_id: aws.kms.key_rotation, resource: r, justification: j, approver: x, "
               "approved: 2026-01-01, expires: 2030-01-01}\n")


def _files(ws: Path) -> dict[str, Path]:
    f = {
        "notes": "notes.txt",
        "dup": "dup.yaml",
        "binary": "binary.yaml",
        "baddate": "baddate.yaml",
        "latin1": "latin1.yaml",
        "unknown": "unknown.yaml",
        "textdb": "text.db",
        "newer": "newer.db",
        "foreign": "foreign.db",
        "truncated": "truncated.db",
        "cfg_unknown": "cfg-unknown.yaml",
        "cfg_dup": "cfg-dup.yaml",
        "cfg_type": "cfg-type.yaml",
        "cfg_top": "cfg-top.yaml",
        "notjson": "notjson.json",
        "object": "object.json",
        "ev": "minutes.txt",
        "notakey": "notakey.pem",
        "empty_store": "empty-store.db",
    }
    return {k: ws / v for k, v in f.items()}


@pytest.fixture
def ws(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    ws = tmp_path / "ws"
    ws.mkdir()
    monkeypatch.chdir(ws)
    url = f"sqlite:///{ws / 'comply.db'}"
    monkeypatch.setenv("COMPLY_DB", url)
    keys.signer()
    Store(url).save_scan(sample_scan())
    f = _files(ws)
    f["notes"].write_text("my own notes\n")
    f["dup"].write_text("- check_id: a\n  resource: r\n  check_id: b\n")
    f["binary"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    f["baddate"].write_text(GOOD_WAIVER.replace("2030-01-01", "2026-02-30"))
    f["latin1"].write_bytes(
        "- {check_id: a, resource: r, justification: caf\xe9, approver: x}\n".encode("latin-1")
    )
    f["unknown"].write_text(GOOD_WAIVER.replace("}", ", owner: me}"))
    f["textdb"].write_text("not a database\n" * 20)
    f["cfg_unknown"].write_text("fail_on: high\nfail_onn: low\n")
    f["cfg_dup"].write_text("fail_on: high\nfail_on: low\n")
    f["cfg_type"].write_text("aws:\n  concurrency: many\n")
    f["cfg_top"].write_text("region: eu-west-1\n")
    f["notjson"].write_text("{not json")
    f["object"].write_text('{"findings": []}')
    f["ev"].write_text("minutes")
    f["notakey"].write_text("-----BEGIN NOTHING-----\n")
    for name in ("newer", "foreign", "truncated", "empty_store"):
        Store(f"sqlite:///{f[name]}") if name != "foreign" else None
    con = sqlite3.connect(f["newer"])
    con.execute("UPDATE comply_schema_version SET version_num = 'ffff'")
    con.commit()
    con.close()
    con = sqlite3.connect(f["foreign"])
    con.execute("CREATE TABLE tenants (id TEXT)")
    con.commit()
    con.close()
    f["truncated"].write_bytes(f["truncated"].read_bytes()[:50])
    out = ws / "out"
    out.mkdir()
    (out / "findings.ocsf.json").write_text("[]")
    (out / "my-notes.md").write_text("mine")
    return ws


def snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def db(path_key: str) -> str:
    return f"sqlite:///{{{path_key}}}"


LONG = "x" * 300
CASES: list[tuple[list[str], dict[str, str | None], str]] = [
    # scan aws: flags and values
    ([*SCAN, "--bogus"], {}, "No such option: --bogus"),
    ([*SCAN, "--concurrency", "0"], {}, "Invalid value for '--concurrency'"),
    ([*SCAN, "--concurrency", "abc"], {}, "Invalid value for '--concurrency'"),
    ([*SCAN, "--workers", "4"], {}, "needs --organization; concurrent API calls into one account are"),
    ([*SCAN, "--fail-on", "severe"], {}, "--fail-on: unknown severity 'severe'"),
    ([*SCAN, "--fail-on", ""], {}, "--fail-on: unknown severity"),
    ([*SCAN, "--format", "docx"], {}, "unknown report format 'docx'"),
    ([*SCAN, "--format", " , "], {}, "no report format given"),
    ([*SCAN, "--framework", "sox"], {}, "unknown framework 'sox'"),
    ([*SCAN, "--ecr-min-severity", "huge"], {}, "--ecr-min-severity: unknown severity"),
    ([*SCAN, "--ecr-max-finding-age", "-1"], {}, "Invalid value for '--ecr-max-finding-age'"),
    ([*SCAN, "--timeout", "0"], {}, "--timeout must be between 0 and 3600 seconds"),
    ([*SCAN, "--timeout", "-5"], {}, "--timeout must be between"),
    ([*SCAN, "--timeout", "99999"], {}, "--timeout must be between"),
    ([*SCAN, "--timeout", "soon"], {}, "Invalid value for '--timeout'"),
    ([*SCAN, "--log-level", "loud"], {}, "--log-level must be one of debug, info, warning"),
    # scan aws: files
    ([*SCAN, "--waivers", "missing.yaml"], {}, "cannot read waivers file missing.yaml: no such file"),
    ([*SCAN, "--waivers", "{dup}"], {}, "duplicate key 'check_id' (first given at line 1)"),
    ([*SCAN, "--waivers", "{binary}"], {}, "is a binary file, not YAML"),
    ([*SCAN, "--waivers", "{baddate}"], {}, "'expires' must be a date like 2026-06-30, got '2026-02-30'"),
    ([*SCAN, "--waivers", "{latin1}"], {}, "is not UTF-8 text"),
    ([*SCAN, "--waivers", "{unknown}"], {}, "entry 1: unknown key 'owner'"),
    ([*SCAN, "--waivers", "out"], {}, "is a folder, not a file"),
    ([*SCAN, "--signing-key", "missing.pem"], {}, "signing key missing.pem not found"),
    ([*SCAN, "--signing-key", "{notakey}"], {}, "is not an unencrypted PEM private key"),
    # scan aws: the output folder
    ([*SCAN, "--out", ""], {}, "--out is empty"),
    ([*SCAN, "--out", "   "], {}, "--out is empty"),
    ([*SCAN, "--out", "{notes}"], {}, "is a file, not a folder"),
    ([*SCAN, "--out", "{notes}/sub"], {}, "is a file"),
    ([*SCAN, "--out", LONG], {}, "is too long a path"),
    ([*SCAN, "--out", "-", "--format", "html"], {}, "--out - streams exactly one format to stdout"),
    ([*SCAN, "--out", "-", "--format", "ocsf,sarif"], {}, "--out - streams exactly one format"),
    ([*SCAN, "--out", "-", "--format", "all"], {}, "--out - streams exactly one format"),
    # scan aws: baselines
    ([*SCAN, "--baseline", "nosuchscan"], {}, "no scan 'nosuchscan'"),
    ([*SCAN, "--baseline", "missing.json"], {}, "--baseline missing.json: no such file"),
    ([*SCAN, "--baseline", "{notjson}"], {}, "is not JSON"),
    ([*SCAN, "--baseline", "{object}"], {}, "is not a findings.ocsf.json"),
    ([*SCAN, "--baseline", "latest", "--db", db("empty_store")], {}, "--baseline latest: no scans in"),
    # scan aws: the store
    ([*SCAN, "--db", "notadriver://x"], {}, "cannot parse the store URL"),
    ([*SCAN, "--db", db("textdb")], {}, "is not a comply store (not an SQLite database)"),
    ([*SCAN, "--db", "sqlite:///{out}"], {}, "is a directory, not a database file"),
    ([*SCAN, "--db", db("newer")], {}, "was written by a newer comply"),
    ([*SCAN, "--db", db("foreign")], {}, "holds tables comply did not create (tenants)"),
    ([*SCAN, "--db", db("truncated")], {}, "is truncated"),
    ([*SCAN, "--db", "postgresql+psycopg://u:hunter2@127.0.0.1:9/x"], {}, "cannot use the store"),
    # scan aws: config file and variables
    ([*SCAN, "--config", "missing.yaml"], {}, "cannot read config file missing.yaml"),
    ([*SCAN, "--config", "{cfg_unknown}"], {}, "line 2: unknown key 'fail_onn'"),
    ([*SCAN, "--config", "{cfg_dup}"], {}, "duplicate key 'fail_on'"),
    ([*SCAN, "--config", "{cfg_type}"], {}, "line 2: concurrency"),
    ([*SCAN, "--config", "{cfg_top}"], {}, "unknown key 'region': it belongs under aws:"),
    (SCAN, {"COMPLY_FAIL_ON": "severe"}, "--fail-on: unknown severity 'severe'"),
    (SCAN, {"COMPLY_TIMEOUT": "soon"}, "COMPLY_TIMEOUT: timeout"),
    (SCAN, {"COMPLY_CONCURRENCY": "0"}, "COMPLY_CONCURRENCY: concurrency"),
    # scan aws: credentials, regions, endpoint
    (
        ["scan", "aws", "--endpoint-url", DEAD, "--region", "mars-north-1"],
        {},
        "unknown AWS region mars-north-1",
    ),
    (
        ["scan", "aws", "--endpoint-url", DEAD],
        {"AWS_DEFAULT_REGION": "moon-1"},
        "unknown AWS region 'moon-1'",
    ),
    (["scan", "aws", "--endpoint-url", DEAD], {"AWS_DEFAULT_REGION": "not a region!"}, "unknown AWS region"),
    ([*SCAN, "--external-id", "abc"], {}, "--external-id needs --role-arn"),
    ([*SCAN, "--role-arn", "arn:aws:iam::1:role/x"], {}, "malformed role ARN"),
    (["scan", "aws", "--endpoint-url", "ftp://x", "--region", "us-east-1"], {}, "malformed endpoint URL"),
    (SCAN, {"AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None}, "partial AWS credentials"),
    (
        SCAN,
        {"AWS_ACCESS_KEY_ID": None, "AWS_SECRET_ACCESS_KEY": None, "AWS_SESSION_TOKEN": None},
        "no AWS credentials found",
    ),
    ([*SCAN, "--profile", "nosuch"], {}, "AWS profile 'nosuch' not found"),
    (SCAN, {}, "cannot reach the AWS endpoint"),
    (["scan", "nosuch"], {}, "No such command 'nosuch'"),
    # report
    (["report", "nosuch"], {}, "no scan 'nosuch'"),
    (["report", "latest", "--format", "docx"], {}, "unknown report format 'docx'"),
    (["report", "latest", "--out", "{notes}"], {}, "is a file, not a folder"),
    (["report", "latest", "--db", db("empty_store")], {}, "no scans in"),
    (["report", "latest", "--signing-key", "missing.pem"], {}, "signing key missing.pem not found"),
    # scans and diff
    (["scans", "show", "nosuch"], {}, "no scan 'nosuch'"),
    (["scans", "list", "--format", "xml"], {}, "unknown output format 'xml'"),
    (["scans", "list", "--db", db("textdb")], {}, "not a comply store"),
    (["scans", "list", "--db", db("newer")], {}, "newer comply"),
    (["diff", "a", "b"], {}, "no scan 'a'"),
    (["diff", "latest"], {}, "Missing argument"),
    # evidence
    (["evidence", "verify", "missing.zip"], {}, "missing.zip: no such file"),
    (["evidence", "verify", "{notes}"], {}, "is not an evidence pack"),
    (["evidence", "verify", "{notes}", "--public-key", "{notes}"], {}, "is not a PEM public key"),
    # attest
    (
        ["attest", "99.9.9", "-e", "{ev}", "--by", "x", "--note", "y"],
        {},
        "no catalog has a requirement '99.9.9'",
    ),
    (
        ["attest", "12.1.1", "-e", "missing", "--by", "x", "--note", "y"],
        {},
        "evidence file missing does not exist",
    ),
    (
        ["attest", "12.1.1", "-e", "{ev}", "--by", "x", "--note", "y", "--valid-days", "99999999"],
        {},
        "--valid-days must be between 1 and 3650",
    ),
    (
        ["attest", "12.1.1", "-e", "{ev}", "--by", "x", "--note", "y", "--valid-days", "-3"],
        {},
        "--valid-days must be between",
    ),
    (
        ["attest", "12.1.1", "-e", "{ev}", "--by", "x", "--note", "y", "--expires", "2026-02-30"],
        {},
        "--expires must be a date like 2026-06-30, got '2026-02-30'",
    ),
    (["attest", "12.1.1", "-e", "{ev}", "--by", " ", "--note", "y"], {}, "needs the name of who attests"),
    (["attest", "list", "--format", "xml"], {}, "Invalid value for '--format'"),
    (["attest", "list", "--framework", "nist"], {}, "unknown framework 'nist'"),
    # frameworks
    (["frameworks", "show", "nope"], {}, "unknown framework 'nope'"),
    (["frameworks", "show", "pci-dss-4.0.1", "-r", "99.9"], {}, "has no requirement '99.9'"),
    (["frameworks", "list", "--format", "xml"], {}, "Invalid value for '--format'"),
    # demo and the root
    (["demo", "--format", "docx"], {}, "unknown report format 'docx'"),
    (["demo", "--out", "{notes}"], {}, "is a file"),
    (["nosuch"], {}, "No such command 'nosuch'"),
    (["--versionx"], {}, "No such option: --versionx"),
]


def test_the_table_is_large_enough():
    assert len(CASES) >= 60
    assert {c[0][0] for c in CASES} >= {
        "scan",
        "report",
        "scans",
        "diff",
        "evidence",
        "attest",
        "frameworks",
        "demo",
    }


@pytest.mark.parametrize(
    ("args", "env", "message"), CASES, ids=[f"{n:02}-{c[2][:40]}" for n, c in enumerate(CASES)]
)
def test_bad_input_is_one_line_exit_2_and_changes_nothing(ws, monkeypatch, args, env, message):
    paths = {k: str(v) for k, v in _files(ws).items()} | {
        "out": str(ws / "out"),
        "dead": f"http://127.0.0.1:{free_port()}",
    }
    argv = [a.format(**paths) if "{" in a else a for a in args]
    for name, value in env.items():
        if value is None:
            monkeypatch.delenv(name, raising=False)
        else:
            monkeypatch.setenv(name, value)
    before = snapshot(ws)
    result = runner.invoke(app, argv)
    assert result.exit_code == 2, (argv, result.output)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0], lines[0]
    assert "Traceback" not in result.output
    assert "hunter2" not in result.output
    assert snapshot(ws) == before


def test_a_json_baseline_of_the_wrong_shape_names_the_finding(ws):
    (ws / "b.json").write_text(json.dumps([{"status_code": "FAIL"}]))
    dead = f"http://127.0.0.1:{free_port()}"
    result = runner.invoke(app, [a.replace("{dead}", dead) for a in [*SCAN, "--baseline", "b.json"]])
    assert result.exit_code == 2
    assert "finding 1 lacks status_code, metadata.event_code or resources[0].uid" in result.stderr
