"""Scan speed: the demo account (about 30 resources) and a larger one, concurrent against serial.

The reference is the same scan with one worker, run in the same process against the same moto
server, so the printed ratio is what the bounded thread pool buys whatever the machine's load.
moto answers from memory in about a millisecond, where AWS takes tens; the second server adds a
fixed 40 ms to every answer so the ratio also shows what concurrency buys against a real account.
"""

from __future__ import annotations

import os
import statistics
import time
from unittest import mock

import boto3
from moto.server import DomainDispatcherApplication, ThreadedMotoServer, create_backend_app
from werkzeug.serving import make_server

from compliance.demo import DEMO_CREDENTIALS, REGION, moto_server, provision
from compliance.engine import run_scan
from compliance.targets.aws import AwsTarget

ROUND_TRIP = 0.040


class _SlowMoto(ThreadedMotoServer):
    def _server_entry(self) -> None:
        app = DomainDispatcherApplication(create_backend_app)

        def slow(environ, start_response):  # type: ignore[no-untyped-def]
            time.sleep(ROUND_TRIP)
            return app(environ, start_response)

        self._server = make_server(self._ip_address, self._port, slow, threaded=True)
        self._server_ready_event.set()
        self._server.serve_forever()


def _grow(endpoint: str, extra: int) -> None:
    """Add `extra` resources of several kinds beside the demo deployment."""
    ec2 = boto3.client("ec2", region_name=REGION, endpoint_url=endpoint)
    s3 = boto3.client("s3", region_name=REGION, endpoint_url=endpoint)
    iam = boto3.client("iam", region_name=REGION, endpoint_url=endpoint)
    for i in range(extra // 3):
        ec2.create_security_group(GroupName=f"bench-{i}", Description="bench")
        s3.create_bucket(Bucket=f"bench-bucket-{i}")
        iam.create_user(UserName=f"bench-user-{i}")


def _timed(endpoint: str, workers: int, repeats: int) -> tuple[float, int, int]:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        scan = run_scan([AwsTarget(regions=[REGION], endpoint_url=endpoint, workers=workers)])
        times.append(time.perf_counter() - started)
    return statistics.median(times), len(scan.evidence), len(scan.findings)


def run() -> None:
    """moto keeps its state per process, so both servers answer from the same emulated account."""
    with mock.patch.dict(os.environ, DEMO_CREDENTIALS), moto_server() as fast, moto_server(_SlowMoto) as slow:
        provision(fast)
        grown = 0
        for label, extra in (("demo account, ~30 resources", 0), ("grown, +150 resources", 150)):
            _grow(fast, extra - grown)
            grown = extra
            for server_label, endpoint, repeats in (
                ("moto as is", fast, 3),
                (f"moto + {ROUND_TRIP * 1000:.0f} ms a call", slow, 1),
            ):
                serial, calls, findings = _timed(endpoint, workers=1, repeats=repeats)
                pooled, _, _ = _timed(endpoint, workers=16, repeats=repeats)
                print(
                    f"{label}, {server_label}: {calls} API calls, {findings} findings; 16 workers "
                    f"{pooled:.2f} s, 1 worker {serial:.2f} s: speed-up x{serial / pooled:.1f}",
                    flush=True,
                )


if __name__ == "__main__":
    run()
