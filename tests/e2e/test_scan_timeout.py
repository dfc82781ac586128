"""`comply scan aws --timeout 1` against an endpoint that answers who the caller is and then hangs on
every other call: the scan ends in seconds, every finding an ERROR naming the timeout (exit 2: no
check could read anything), where botocore's retries alone held each call for minutes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

COMPLY = str(Path(sys.executable).with_name("comply"))
IDENTITY = b"""<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
  <GetCallerIdentityResult>
    <Arn>arn:aws:iam::123456789012:user/auditor</Arn>
    <UserId>AIDAEXAMPLEAUDITOR</UserId>
    <Account>123456789012</Account>
  </GetCallerIdentityResult>
  <ResponseMetadata><RequestId>4f1e6a2c-0000-4000-8000-000000000001</RequestId></ResponseMetadata>
</GetCallerIdentityResponse>"""


@pytest.fixture
def hangs_after_identity() -> Iterator[str]:
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if b"Action=GetCallerIdentity" in body:
                self.send_response(200)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(IDENTITY)))
                self.end_headers()
                self.wfile.write(IDENTITY)
                return
            release.wait()  # accepted, read, never answered

        do_GET = do_PUT = do_POST

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    release.set()
    server.shutdown()
    server.server_close()


def test_a_hanging_endpoint_ends_the_scan_in_seconds_with_errors_naming_the_timeout(
    hangs_after_identity: str, tmp_path: Path,
) -> None:
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
           "AWS_DEFAULT_REGION": "us-east-1", "COMPLY_DB": f"sqlite:///{tmp_path / 'comply.db'}",
           "HOME": str(tmp_path)}
    out = tmp_path / "out"
    started = time.monotonic()
    result = subprocess.run(
        [COMPLY, "scan", "aws", "--endpoint-url", hangs_after_identity, "--region", "us-east-1",
         "--timeout", "1", "--out", str(out), "--quiet"],
        capture_output=True, text=True, env=env, timeout=300, check=False, cwd=tmp_path)
    took = time.monotonic() - started
    assert result.returncode == 2, result.stderr
    summary = result.stdout.strip()
    assert summary.startswith("scan ") and "exit 2: no check could read anything (e.g. " in summary
    assert "no answer within --timeout 1 s" in summary
    assert summary.endswith("the endpoint did not answer in time: check it, or allow more with --timeout")
    assert "Traceback" not in result.stderr
    # 42 listings, 16 at a time, each ending after about 1 s and one attempt; with botocore's 8 attempts
    # and back-off each would hold for a minute or more. Generous: the machine may be loaded.
    assert took < 150, took
    findings = json.loads((out / "findings.ocsf.json").read_text())
    assert len(findings) > 50
    for finding in findings:
        assert finding["compliance"]["status"] == "Other"  # ERROR: could not assess
        assert "no answer within --timeout 1 s (1 attempt(s), the last: Read timeout" in (
            finding["compliance"]["status_detail"])
