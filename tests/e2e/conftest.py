from __future__ import annotations

import contextlib
from collections.abc import Iterator

import pytest
import requests

from compliance.demo import moto_server, provision
from compliance.organization_demo import Organization, build

REGION = "us-east-1"


@pytest.fixture(scope="module")
def deployment():
    """moto's real server on loopback, holding the reference deployment with its planted gaps."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        env.setenv("AWS_DEFAULT_REGION", "us-east-1")
        with moto_server() as endpoint:
            # moto keeps one state per process: start each module's deployment from an empty account
            requests.post(f"{endpoint}/moto-api/reset", timeout=10)
            provision(endpoint)
            yield endpoint


@contextlib.contextmanager
def moto_organization(names: list[str], open_ssh_in: tuple[str, ...] = (),
                      server_class: type | None = None) -> Iterator[tuple[str, Organization]]:
    """moto's server (or a subclass) holding an AWS Organization whose members are `names`, those in
    `open_ssh_in` with SSH open to the internet; yields (endpoint, organisation).

    moto keeps one state per process, so the organisation starts from an empty one (a reset) and the
    test credentials are set for as long as the block runs.
    """
    with pytest.MonkeyPatch.context() as env:
        for name, value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"),
                            ("AWS_DEFAULT_REGION", REGION)):
            env.setenv(name, value)
        with moto_server(server_class) as endpoint:
            requests.post(f"{endpoint}/moto-api/reset", timeout=10)
            yield endpoint, build(names, REGION, endpoint, open_ssh_in=open_ssh_in)
