from __future__ import annotations

import pytest
import requests

from compliance.demo import moto_server, provision


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
