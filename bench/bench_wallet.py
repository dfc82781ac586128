"""Transfers per second and latency through the wallet's HTTPS API on PostgreSQL, beside pgbench's
built-in TPC-B-like TPS on the same server in the same run. The ratio is the figure to watch."""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import random
import re
import socket
import ssl
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

from tests import postgres

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "16"))
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
SERVE = os.environ.get("BENCH_SERVE", "--workers 3 --threads 6").split()
PROCESSES = int(os.environ.get("BENCH_CLIENT_PROCESSES", "2"))
WALLETS = 200
WALLET = str(Path(sys.executable).parent / "wallet")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pgbench_tps(server: postgres.Server, seconds: int = SECONDS) -> float:
    db = postgres.create_database(server, "pgbench").rsplit("/", 1)[1]
    pgbench = str(server.bindir / "pgbench")
    conn = ["-h", "127.0.0.1", "-p", str(server.port), "-U", postgres.SUPERUSER]
    subprocess.run([pgbench, *conn, "-i", "-s", "1", "-q", db], check=True, capture_output=True)
    out = subprocess.run(
        [pgbench, *conn, "-c", str(CLIENTS), "-j", "2", "-T", str(seconds), "-b", "tpcb-like", db],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    match = re.search(r"tps = ([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"unexpected pgbench output: {out[-300:]}")
    return float(match.group(1))


def _wallet(env: dict[str, str], *args: str) -> str:
    return subprocess.run([WALLET, *args], env=env, check=True, capture_output=True, text=True).stdout


def _wait_for(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("wallet serve exited during start-up")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("wallet serve did not start listening")


def wallet_transfers(
    server: postgres.Server, home: Path, seconds: int = SECONDS
) -> tuple[float, list[float]]:
    env = {
        **os.environ,
        "WALLET_HOME": str(home),
        "WALLET_DATABASE_URL": postgres.create_database(server),
        "WALLET_RATE_LIMIT_PER_SECOND": "1000000",
        "WALLET_RATE_LIMIT_BURST": "1000000",
        "WALLET_LOG_LEVEL": "WARNING",
    }
    _wallet(env, "db", "upgrade")
    creds = json.loads(_wallet(env, "tenant", "create", "bench", "--domain", "bench.test"))
    port = _free_port()
    proc = subprocess.Popen(
        [WALLET, "serve", "--self-signed", "--port", str(port), *SERVE],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for(port, proc)
        return _drive(f"https://127.0.0.1:{port}", str(home / "tls" / "self-signed.crt"), creds, seconds)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _session(cert: str, token: str = "") -> requests.Session:
    s = requests.Session()
    s.trust_env, s.verify = False, cert
    if token:
        s.headers["Authorization"] = f"Bearer {token}"
    return s


def _drive(url: str, cert: str, creds: dict[str, str], seconds: int) -> tuple[float, list[float]]:
    token = (
        _session(cert)
        .post(
            f"{url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(creds["client_id"], creds["client_secret"]),
        )
        .json()["access_token"]
    )
    setup = _session(cert, token)
    card = setup.post(
        f"{url}/v1/cards",
        json={"pan": "4111111111111111", "expiry_month": 12, "expiry_year": 2099, "holder": "Bench"},
    ).json()["id"]
    wallets = []
    for i in range(WALLETS):
        w = setup.post(f"{url}/v1/wallets", json={"owner_ref": f"bench-{i}", "currency": "USD"}).json()["id"]
        setup.post(f"{url}/v1/wallets/{w}/topups", json={"amount": "100000.00", "card_id": card})
        wallets.append(w)
    # The clients share the machine with the server: spread them over processes so that one
    # interpreter's lock does not add its queueing to the latencies measured.
    per_process = [list(range(n, CLIENTS, PROCESSES)) for n in range(PROCESSES)]
    start = time.time() + 1  # every client connected by then
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        jobs = [(url, cert, token, wallets, ns, start, start + seconds) for ns in per_process]
        results = pool.starmap(_clients, jobs, chunksize=1)
    errors = sum(e for _, e in results)
    if errors:
        raise RuntimeError(f"{errors} transfers failed during the benchmark")
    flat = [x for lat, _ in results for x in lat]
    return len(flat) / seconds, flat


def _clients(
    url: str, cert: str, token: str, wallets: list[str], numbers: list[int], start: float, stop: float
) -> tuple[list[float], int]:
    """Keep-alive HTTPS clients, a thread each, sending transfers from `start` until `stop` (wall clock)."""
    latencies: list[float] = []
    errors = [0]
    host, port = url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=cert)

    def client(n: int) -> None:
        # A lean keep-alive client, so the benchmark measures the server rather than `requests`.
        conn = http.client.HTTPSConnection(host, int(port), context=context)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        rng, i = random.Random(n), 0
        conn.connect()
        while time.time() < start:
            time.sleep(0.001)
        while time.time() < stop:
            src, dst = rng.sample(wallets, 2)
            body = json.dumps({"from_wallet": src, "to_wallet": dst, "amount": "1.00", "currency": "USD"})
            started = time.perf_counter()
            conn.request("POST", "/v1/transfers", body, {**headers, "Idempotency-Key": f"bench-{n}-{i}"})
            response = conn.getresponse()
            response.read()
            latencies.append(time.perf_counter() - started)
            errors[0] += response.status != 201
            i += 1
        conn.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


def run() -> None:
    try:
        server = postgres.start()
    except RuntimeError as exc:
        print(f"bench_wallet: skipped: {exc}")
        return
    try:
        with tempfile.TemporaryDirectory(prefix="wallet-bench-") as home:
            tps, latencies = wallet_transfers(server, Path(home))
        reference = pgbench_tps(server)
    finally:
        postgres.stop(server)
    cuts = statistics.quantiles(latencies, n=100)
    print(
        f"wallet transfers over HTTPS, {CLIENTS} clients, PostgreSQL: {tps:,.0f} transfers/s, "
        f"p50 {cuts[49] * 1000:.1f} ms, p99 {cuts[98] * 1000:.1f} ms ({len(latencies):,} transfers)"
    )
    print(f"pgbench tpcb-like, {CLIENTS} clients, same server: {reference:,.0f} tps")
    print(f"ratio wallet/pgbench: {tps / reference:.0%} (goal >= 50%; p99 goal < 50 ms)")


if __name__ == "__main__":
    run()
