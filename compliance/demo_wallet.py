"""The real wallet, served over TLS on loopback with two demo tenants: what `comply demo` scans with
`scan web`, and what the end-to-end tests probe.

The wallet runs as `wallet serve --self-signed` (gunicorn, the production server) in a child process,
with its own home directory, a fresh database and a certificate made at start-up. Each tenant gets a
client and one wallet holding some money, so the isolation check has objects to ask for.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess  # nosec B404 - only this interpreter, running the wallet's CLI
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

TENANTS = (("Acme Pay", "acme.demo.test"), ("Globex Wallets", "globex.demo.test"))
_WALLET = [sys.executable, "-c", "from wallet.cli import main; main()"]


@dataclass(frozen=True)
class ServedWallet:
    url: str
    home: Path
    cert: Path
    credentials: Path
    """A `--credentials` file naming both tenants' clients."""
    clients: tuple[dict[str, Any], ...]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wallet(env: dict[str, str], *args: str) -> str:
    command = [*_WALLET, *args]  # this interpreter and the wallet's own CLI, fixed arguments
    done = subprocess.run(command, env=env, capture_output=True, text=True,  # noqa: S603 # nosec B603
                          timeout=120, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wallet {' '.join(args)} failed: {done.stderr.strip()[-500:]}")
    return done.stdout


def _wait(proc: subprocess.Popen[bytes], port: int, deadline: float) -> None:
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"wallet serve exited with {proc.returncode}") from None
            time.sleep(0.1)
    raise RuntimeError(f"wallet serve did not listen on port {port} in time")


def _seed(url: str, cert: Path, client: dict[str, Any]) -> None:
    """One wallet for the tenant, so another tenant's client has an object id to ask for."""
    import base64

    import urllib3

    pool = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(cert), retries=False)
    basic = base64.b64encode(f"{client['client_id']}:{client['client_secret']}".encode()).decode()
    token = pool.request("POST", f"{url}/oauth/token", body=b"grant_type=client_credentials", headers={
        "Authorization": f"Basic {basic}", "Content-Type": "application/x-www-form-urlencoded"})
    if token.status != 200:
        raise RuntimeError(f"demo tenant token request answered {token.status}")
    bearer = {"Authorization": f"Bearer {json.loads(token.data)['access_token']}",
              "Content-Type": "application/json"}
    made = pool.request("POST", f"{url}/v1/wallets", headers=bearer,
                        body=json.dumps({"owner_ref": f"demo-{client['name']}", "currency": "EUR"}).encode())
    if made.status != 201:
        raise RuntimeError(f"demo wallet creation answered {made.status}")
    pool.clear()


@contextmanager
def served_wallet(home: Path, *, env: dict[str, str] | None = None) -> Iterator[ServedWallet]:
    """Serve the wallet over TLS on a free loopback port for as long as the block runs (its log in
    `home/serve.log`)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    environ = {**os.environ, "WALLET_HOME": str(home), **(env or {})}
    environ.pop("WALLET_DATABASE_URL", None)
    environ.pop("WALLET_CONFIG", None)
    _wallet(environ, "db", "upgrade")
    clients = []
    for name, domain in TENANTS:
        created = json.loads(_wallet(environ, "tenant", "create", name, "--domain", domain))
        clients.append({"name": domain.split(".")[0], "token_url": "/oauth/token",
                        "client_id": created["client_id"], "client_secret": created["client_secret"]})
    port = _free_port()
    log = (home / "serve.log").open("wb")
    command = [*_WALLET, "serve", "--self-signed", "--port", str(port), "--workers", "1", "--threads", "8"]
    proc = subprocess.Popen(command, env=environ, stdout=log,  # noqa: S603 # nosec B603
                            stderr=subprocess.STDOUT)
    try:
        _wait(proc, port, time.monotonic() + 60)
        url = f"https://127.0.0.1:{port}"
        cert = home / "tls" / "self-signed.crt"
        for client in clients:
            _seed(url, cert, client)
        credentials = home / "comply-credentials.yaml"
        fd = os.open(credentials, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            yaml.safe_dump(clients, fh, sort_keys=False)
        yield ServedWallet(url, home, cert, credentials, tuple(clients))
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover - gunicorn ignored SIGTERM
            proc.kill()
            proc.wait(timeout=5)
        log.close()
