"""kill -9 of a `wallet serve` worker in the middle of a top-up, against `wallet acquirer serve` in its
own process: the charge was made, the credit was not; `wallet topups reconcile` settles it, `wallet
ledger verify` agrees, money charged equals money credited, and the audit chain reaches its anchor."""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.wallet.acquiring import charged_minor, charges, faults
from tests.wallet.conftest import VISA

WALLET = str(Path(sys.executable).parent / "wallet")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(proc.stderr.read().decode() if proc.stderr else "exited")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("not listening")


def _run(env, *args, expect=0):
    done = subprocess.run([WALLET, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == expect, done.stdout + done.stderr
    return done.stdout + done.stderr


def _workers(master: int) -> list[int]:
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    return [int(pid) for pid in children]


@pytest.fixture()
def acquirer_process():
    port = _free_port()
    proc = subprocess.Popen(
        [WALLET, "acquirer", "serve", "--port", str(port), "--slow", "1", "--delay", "8"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    _wait_for(port, proc)
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_kill_a_worker_mid_topup_then_reconcile(tmp_path, any_db_url, acquirer_process):
    env = {
        **os.environ,
        "WALLET_HOME": str(tmp_path / "home"),
        "WALLET_DATABASE_URL": any_db_url,
        "WALLET_ACQUIRER": "http",
        "WALLET_ACQUIRER_URL": acquirer_process,
        "WALLET_ACQUIRER_TIMEOUT": "30",
        "WALLET_RECONCILE_INTERVAL": "0",  # this test reconciles by hand
        "WALLET_RATE_LIMIT_PER_SECOND": "1000",
        "WALLET_RATE_LIMIT_BURST": "1000",
    }
    env.pop("WALLET_CONFIG", None)
    _run(env, "db", "upgrade")
    creds = json.loads(_run(env, "tenant", "create", "Acme", "--domain", "crash.acme.test"))
    port = _free_port()
    server = subprocess.Popen(
        [WALLET, "serve", "--self-signed", "--port", str(port), "--workers", "1", "--threads", "4"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        _wait_for(port, server)
        url = f"https://127.0.0.1:{port}"
        http = requests.Session()
        http.trust_env, http.verify = False, str(tmp_path / "home" / "tls" / "self-signed.crt")
        token = http.post(
            f"{url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
        ).json()["access_token"]
        http.headers["Authorization"] = f"Bearer {token}"
        wallet = http.post(f"{url}/v1/wallets", json={"owner_ref": "alice", "currency": "EUR"}).json()["id"]
        card = http.post(
            f"{url}/v1/cards", json={"pan": VISA, "expiry_month": 12, "expiry_year": 2099, "holder": "A"}
        ).json()["id"]
        outcome: list[object] = []

        def topup() -> None:
            try:
                outcome.append(
                    http.post(
                        f"{url}/v1/wallets/{wallet}/topups",
                        json={"amount": "12.34", "card_id": card},
                        timeout=30,
                    )
                )
            except requests.ConnectionError as exc:
                outcome.append(exc)

        sender = threading.Thread(target=topup)
        sender.start()
        deadline = time.monotonic() + 20
        while not charges(acquirer_process) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(charges(acquirer_process)) == 1  # charged; the answer is still on its way
        (worker,) = _workers(server.pid)
        os.kill(worker, signal.SIGKILL)
        sender.join(timeout=30)
        assert isinstance(outcome[0], requests.ConnectionError)

        assert "1 pending top-up(s): 1 credited" in _run(env, "topups", "reconcile", "--older-than", "0")
        assert "0 pending" in _run(env, "topups", "reconcile")  # settled once, for good
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:  # gunicorn starts a new worker
            try:
                balance = http.get(f"{url}/v1/wallets/{wallet}", timeout=5).json()["balance"]
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        assert balance == "12.34"
        faults(acquirer_process)
        r = http.post(f"{url}/v1/wallets/{wallet}/topups", json={"amount": "0.66", "card_id": card})
        assert r.status_code == 201
        assert "ledger consistent" in _run(env, "ledger", "verify")
        assert charged_minor(acquirer_process) == 1300
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    logs = server.stderr.read().decode()
    assert VISA not in logs
    verified = _run(env, "audit", "verify")
    assert "audit log intact" in verified and "reaching the newest anchor" in verified
