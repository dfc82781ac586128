"""`comply scan aws --organization` end to end against moto's server, one member refusing our role."""

from __future__ import annotations

import io
import json
from urllib.parse import parse_qs

import pytest
from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app
from typer.testing import CliRunner
from werkzeug.serving import make_server

from compliance.cli import app
from tests.e2e.conftest import REGION, moto_organization

DENIED = (
    "<ErrorResponse><Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not authorized to "
    "perform sts:AssumeRole</Message></Error><RequestId>denied-1</RequestId></ErrorResponse>"
)


class _RefusingMoto(ThreadedMotoServer):
    """moto's server, except that one account's role trusts nobody (as a misconfigured member would)."""

    refused_account = ""

    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)

        def refusing(environ, start_response):  # type: ignore[no-untyped-def]
            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
            form = parse_qs(body.decode("utf-8", "replace"))
            if (
                form.get("Action") == ["AssumeRole"]
                and self.refused_account
                and any(f"::{self.refused_account}:" in arn for arn in form.get("RoleArn", []))
            ):
                start_response("403 Forbidden", [("Content-Type", "text/xml")])
                return [DENIED.encode()]
            return app(environ, start_response)

        self._server = make_server(self._ip_address, self._port, refusing, threaded=True)
        self._server_ready_event.set()
        self._server.serve_forever()


@pytest.fixture(scope="module")
def organization():
    with moto_organization(["payments", "ledger", "locked"], ("ledger",), _RefusingMoto) as (endpoint, org):
        _RefusingMoto.refused_account = org.members["locked"]
        yield endpoint, org
        _RefusingMoto.refused_account = ""


def test_a_member_that_refuses_the_role_is_an_error_for_that_account_alone(organization, tmp_path):
    endpoint, org = organization
    result = CliRunner().invoke(
        app,
        [
            "scan",
            "aws",
            "--organization",
            "--endpoint-url",
            endpoint,
            "--region",
            REGION,
            "--out",
            str(tmp_path),
            "--fail-on",
            "critical",
        ],
    )
    assert "Traceback" not in result.output
    findings = json.loads((tmp_path / "findings.ocsf.json").read_text())
    by_account: dict[str, list[dict]] = {}
    for finding in findings:
        by_account.setdefault(finding["cloud"]["account"]["uid"], []).append(finding)
    assert set(by_account) >= {org.management, *org.members.values()}  # moto: one state per process
    locked = by_account[org.members["locked"]]
    assert locked and {f["status_code"] for f in locked} == {"ERROR"}
    assert all("cannot assume" in f["compliance"]["status_detail"] for f in locked)
    ssh = [
        f
        for f in findings
        if f["metadata"]["event_code"] == "aws.ec2.sg_admin_ports_open" and f["status_code"] == "FAIL"
    ]
    members = set(org.members.values())  # moto keeps one state per process: the management account
    assert [f["cloud"]["account"]["uid"] for f in ssh if f["cloud"]["account"]["uid"] in members] == [
        org.members["ledger"]
    ]  # may hold other tests' resources, the members only this module's
    assert not any(f["status_code"] == "PASS" for f in locked)
    critical = [f for f in findings if f["status_code"] == "FAIL" and f["severity_id"] == 5]
    assert result.exit_code == (1 if critical else 3), result.output
    assert f"account {org.members['locked']} (locked) was not reached" in result.output


def test_the_organisation_flags_need_organization(tmp_path):
    result = CliRunner().invoke(app, ["scan", "aws", "--accounts", "123456789012", "--out", str(tmp_path)])
    assert result.exit_code == 2
    assert "need --organization" in result.output
