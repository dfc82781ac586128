"""`--timeout SECONDS` bounds each AWS request as a whole, botocore's retries included.

Against a real local socket that accepts connections and never answers: before, each attempt was
bounded and botocore's adaptive mode retried up to 8 times with back-off, so one request could hang
for minutes; now it ends in about SECONDS as an ERROR record naming the timeout.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import pytest

from compliance.collect.aws.collector import AwsCollector, Task
from compliance.collect.aws.session import AwsAccount, bounded_client, connect, new_session
from compliance.collect.record import Outcome
from compliance.errors import UsageError

SLACK = 2.5
"""Seconds beyond --timeout a request may take: at most one back-off delay before the refused retry,
plus a loaded machine's scheduling."""


@pytest.fixture
def hanging_endpoint() -> Iterator[str]:
    """A socket that accepts every connection and never reads or answers."""
    server = socket.create_server(("127.0.0.1", 0), backlog=64)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            held.append(conn)

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    server.close()
    for conn in held:
        conn.close()


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def _account(endpoint: str) -> AwsAccount:
    session = new_session(region_name="us-east-1")
    return AwsAccount(session, {"Account": "123456789012"}, ["us-east-1"], endpoint, None)  # type: ignore[arg-type]


def _task() -> Task:
    return Task("ec2", "describe_vpcs", "us-east-1", "us-east-1", {}, frozenset(), {})


@pytest.mark.usefixtures("credentials")
@pytest.mark.parametrize("timeout", [1.0, 2.0])
def test_a_hanging_call_ends_after_about_the_timeout_as_an_error_naming_it(hanging_endpoint, timeout):
    collector = AwsCollector(_account(hanging_endpoint), max_attempts=8, timeout=timeout)
    collector.client("ec2", "us-east-1")  # the API model is loaded before the clock starts
    started = time.monotonic()
    record = collector.call(_task())
    took = time.monotonic() - started
    assert timeout * 0.9 <= took <= timeout + SLACK
    assert record.outcome is Outcome.ERROR
    assert record.error_code == "CallTimeout"
    assert record.error_message.startswith(
        f"no answer within --timeout {timeout:g} s (1 attempt(s), the last: Read timeout on endpoint URL")


@pytest.mark.usefixtures("credentials")
def test_calls_at_once_each_keep_their_own_bound(hanging_endpoint):
    collector = AwsCollector(_account(hanging_endpoint), workers=8, max_attempts=8, timeout=1.0)
    collector.client("ec2", "us-east-1")
    started = time.monotonic()
    records = list(collector.run([_task() for _ in range(8)]))
    assert time.monotonic() - started <= 1.0 + SLACK
    assert [r.error_code for r in records] == ["CallTimeout"] * 8


@pytest.mark.usefixtures("credentials")
def test_connect_to_a_hanging_endpoint_is_one_usage_line_naming_the_timeout(hanging_endpoint):
    started = time.monotonic()
    with pytest.raises(UsageError, match=r"the AWS endpoint http://127\.0\.0\.1:\d+ gave no answer within "
                                         r"--timeout 1 s"):
        connect(regions=["us-east-1"], endpoint_url=hanging_endpoint, timeout=1.0)
    assert time.monotonic() - started <= 1.0 + SLACK + 2  # + loading the STS model


@pytest.mark.usefixtures("credentials")
def test_without_timeout_the_client_is_left_as_botocore_made_it(hanging_endpoint):
    client = bounded_client(new_session(), "sts", hanging_endpoint, max_attempts=1, timeout=None)
    assert client.meta.config.read_timeout == 30
    assert client.meta.config.connect_timeout == 5
    bounded = bounded_client(new_session(), "sts", hanging_endpoint, max_attempts=1, timeout=2.5)
    assert (bounded.meta.config.read_timeout, bounded.meta.config.connect_timeout) == (2.5, 2.5)
