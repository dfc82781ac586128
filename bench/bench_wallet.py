"""Transfers per second and latency through the wallet's HTTPS API on PostgreSQL, beside pgbench's
built-in TPC-B-like TPS on the same server in the same run; the ratio is the figure to watch, reported
as the median of BENCH_RUNS (5) runs. Then top-ups through the HTTP acquirer (`wallet acquirer serve`
in its own process): top-ups per second and latency, and money charged against money credited."""

from __future__ import annotations

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
SERVE = os.environ.get("BENCH_SERVE", "").split()  # `wallet serve`'s defaults: a worker per CPU
PROCESSES = int(os.environ.get("BENCH_CLIENT_PROCESSES", "2"))
RUNS = int(os.environ.get("BENCH_RUNS", "5"))
WALLETS = 200
WALLET = str(Path(sys.executable).parent / "wallet")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def pgbench_run(server: postgres.Server, seconds: int = SECONDS) -> tuple[float, list[float]]:
    """pgbench's TPS and each transaction's latency (seconds), from its per-transaction log."""
    db = postgres.create_database(server).rsplit("/", 1)[1]  # a fresh one per run
    pgbench = str(server.bindir / "pgbench")
    conn = ["-h", "127.0.0.1", "-p", str(server.port), "-U", postgres.SUPERUSER]
    subprocess.run([pgbench, *conn, "-i", "-s", "1", "-q", db], check=True, capture_output=True)
    with tempfile.TemporaryDirectory(prefix="pgbench-log-") as logs:
        load = ["-c", str(CLIENTS), "-j", "2", "-T", str(seconds), "-b", "tpcb-like"]
        out = subprocess.run(
            [pgbench, *conn, *load, "--log", f"--log-prefix={logs}/txn", db],
            check=True,
            capture_output=True,
            text=True,
            cwd=logs,
        ).stdout
        # Each line: client, transaction number, latency in microseconds, ...
        latencies = [int(line.split()[2]) / 1e6 for log in Path(logs).iterdir() for line in log.open()]
    match = re.search(r"tps = ([\d.]+)", out)
    if match is None:
        raise RuntimeError(f"unexpected pgbench output: {out[-300:]}")
    return float(match.group(1)), latencies


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


def _acquirer() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    proc = subprocess.Popen(
        [WALLET, "acquirer", "serve", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_for(port, proc)
    return proc, f"http://127.0.0.1:{port}"


def wallet_run(
    server: postgres.Server, home: Path, acquirer_url: str, kinds: tuple[str, ...], seconds: int = SECONDS
) -> dict[str, tuple[float, list[float]]]:
    """Serve a fresh wallet on its own database and drive each kind of request in turn."""
    env = {
        **os.environ,
        "WALLET_HOME": str(home),
        "WALLET_DATABASE_URL": postgres.create_database(server),
        "WALLET_RATE_LIMIT_PER_SECOND": "1000000",
        "WALLET_RATE_LIMIT_BURST": "1000000",
        "WALLET_LOG_LEVEL": "WARNING",
        "WALLET_ACQUIRER": "http",
        "WALLET_ACQUIRER_URL": acquirer_url,
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
        url, cert = f"https://127.0.0.1:{port}", str(home / "tls" / "self-signed.crt")
        token, wallets, card = _setup(url, cert, creds)
        results = {kind: _drive(url, cert, token, wallets, card, kind, seconds) for kind in kinds}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if "topup" in kinds:
        verdict = subprocess.run(
            [WALLET, "ledger", "verify"], env=env, capture_output=True, text=True, check=False
        )
        said = (verdict.stdout + verdict.stderr).strip()[:300]
        print(f"wallet ledger verify: exit {verdict.returncode}: {said}")
        _compare(env, acquirer_url)
    return results


def _compare(env: dict[str, str], acquirer_url: str) -> None:
    """Money the acquirer kept for this run's top-ups against money the wallet credited."""
    import psycopg

    url = env["WALLET_DATABASE_URL"].replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, status, amount_minor FROM movements WHERE kind = 'topup'").fetchall()
    ours = {row[0] for row in rows}
    credited = sum(row[2] for row in rows if row[1] == "completed")
    charges = requests.get(f"{acquirer_url}/_admin/charges", timeout=30).json()["data"]
    kept = sum(
        round(float(c["amount"]) * 100)
        for c in charges
        if c["status"] == "approved" and c["reference"] in ours
    )
    same = "equal" if kept == credited else "DIFFER"
    print(f"charged and kept {kept / 100:,.2f}, credited {credited / 100:,.2f}: {same}")


def _session(cert: str, token: str = "") -> requests.Session:
    s = requests.Session()
    s.trust_env, s.verify = False, cert
    if token:
        s.headers["Authorization"] = f"Bearer {token}"
    return s


def _setup(url: str, cert: str, creds: dict[str, str]) -> tuple[str, list[str], str]:
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
    return token, wallets, card


def _drive(
    url: str, cert: str, token: str, wallets: list[str], card: str, kind: str, seconds: int
) -> tuple[float, list[float]]:
    # The clients share the machine with the server: spread them over processes so that one
    # interpreter's lock does not add its queueing to the latencies measured.
    per_process = [list(range(n, CLIENTS, PROCESSES)) for n in range(PROCESSES)]
    start = time.time() + 1  # every client connected by then
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        jobs = [(url, cert, token, wallets, card, kind, ns, start, start + seconds) for ns in per_process]
        results = pool.starmap(_clients, jobs, chunksize=1)
    errors = sum(e for _, e in results)
    if errors:
        raise RuntimeError(f"{errors} {kind}s failed during the benchmark")
    flat = [x for lat, _ in results for x in lat]
    return len(flat) / seconds, flat


def _clients(
    url: str,
    cert: str,
    token: str,
    wallets: list[str],
    card: str,
    kind: str,
    numbers: list[int],
    start: float,
    stop: float,
) -> tuple[list[float], int]:
    """Keep-alive HTTPS clients, a thread each, sending transfers or top-ups from `start` until `stop`."""
    latencies: list[float] = []
    errors = [0]
    host, port = url.removeprefix("https://").split(":")
    context = ssl.create_default_context(cafile=cert)

    def client(n: int) -> None:
        # A lean keep-alive client (pre-built request bytes, a minimal response reader), so that the
        # benchmark's own CPU, on the same cores as the server, stays small: pgbench's client is C.
        sock = context.wrap_socket(socket.create_connection((host, int(port))), server_hostname=host)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reader = _Reader(sock)
        head = f"Host: {host}:{port}\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        rng, i = random.Random(n), 0
        while time.time() < start:
            time.sleep(0.001)
        while time.time() < stop:
            src, dst = rng.sample(wallets, 2)
            if kind == "transfer":
                path = "/v1/transfers"
                body = json.dumps({"from_wallet": src, "to_wallet": dst, "amount": "1.00", "currency": "USD"})
            else:
                path, body = f"/v1/wallets/{dst}/topups", json.dumps({"amount": "1.00", "card_id": card})
            request = (
                f"POST {path} HTTP/1.1\r\n{head}Idempotency-Key: bench-{kind}-{n}-{i}\r\n"
                f"Content-Length: {len(body)}\r\n\r\n{body}"
            ).encode()
            started = time.perf_counter()
            sock.sendall(request)
            status = reader.response()
            latencies.append(time.perf_counter() - started)
            errors[0] += status != 201
            i += 1
        sock.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in numbers]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return latencies, errors[0]


class _Reader:
    """Reads HTTP/1.1 responses with a Content-Length (all the wallet sends) off a keep-alive socket."""

    def __init__(self, sock: ssl.SSLSocket) -> None:
        self.sock, self.buf = sock, b""

    def response(self) -> int:
        while (end := self.buf.find(b"\r\n\r\n")) < 0:
            self._more()
        head, self.buf = self.buf[:end].decode("latin-1"), self.buf[end + 4 :]
        length = 0
        for line in head.split("\r\n")[1:]:
            name, _, value = line.partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        while len(self.buf) < length:
            self._more()
        self.buf = self.buf[length:]
        return int(head.split(" ", 2)[1])

    def _more(self) -> None:
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the server closed the connection")
        self.buf += data


def _p(latencies: list[float], q: int) -> float:
    return statistics.quantiles(latencies, n=100)[q - 1] * 1000


def run() -> None:
    try:
        server = postgres.start()
    except RuntimeError as exc:
        print(f"bench_wallet: skipped: {exc}")
        return
    acquirer, acquirer_url = _acquirer()
    ratios, p99s, reference_p99s = [], [], []
    try:
        for n in range(1, RUNS + 1):
            last = n == RUNS
            with tempfile.TemporaryDirectory(prefix="wallet-bench-") as home:
                kinds = ("transfer", "topup") if last else ("transfer",)
                results = wallet_run(server, Path(home), acquirer_url, kinds)
            tps, latencies = results["transfer"]
            reference, reference_latencies = pgbench_run(server)
            ratios.append(tps / reference)
            p99s.append(_p(latencies, 99))
            reference_p99s.append(_p(reference_latencies, 99))
            print(
                f"run {n}: {tps:,.0f} transfers/s, p50 {_p(latencies, 50):.1f} ms, p99 {p99s[-1]:.1f} ms "
                f"({len(latencies):,} transfers); pgbench tpcb-like {reference:,.0f} tps, "
                f"p50 {_p(reference_latencies, 50):.1f} ms, p99 {reference_p99s[-1]:.1f} ms; "
                f"ratio {ratios[-1]:.0%}",
                flush=True,
            )
            if last:
                tops, top_latencies = results["topup"]
                print(
                    f"top-ups through the HTTP acquirer, {CLIENTS} clients: {tops:,.0f} top-ups/s, "
                    f"p50 {_p(top_latencies, 50):.1f} ms, p99 {_p(top_latencies, 99):.1f} ms "
                    f"({len(top_latencies):,} top-ups)"
                )
    finally:
        acquirer.terminate()
        acquirer.wait(timeout=30)
        postgres.stop(server)
    print(
        f"median of {RUNS} runs: ratio wallet/pgbench {statistics.median(ratios):.0%} (goal >= 50%), "
        f"p99 {statistics.median(p99s):.1f} ms (goal < 50 ms; pgbench's own p99 with as many clients: "
        f"{statistics.median(reference_p99s):.1f} ms)"
    )


if __name__ == "__main__":
    run()
