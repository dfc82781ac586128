"""The quick start of docs/wallet.md, over real HTTPS against `wallet serve` on loopback."""

import json
import os
import socket
import ssl
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from cryptography import x509

from tests.wallet.conftest import VISA
from wallet.serve import gunicorn_options, self_signed

WALLET = str(Path(sys.executable).parent / "wallet")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wallet(env, *args):
    done = subprocess.run([WALLET, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("served")
    env = {
        **os.environ,
        "WALLET_HOME": str(home),
        "WALLET_RATE_LIMIT_PER_SECOND": "1000",
        "WALLET_RATE_LIMIT_BURST": "1000",
    }
    env.pop("WALLET_DATABASE_URL", None)
    _wallet(env, "db", "upgrade")
    creds = json.loads(_wallet(env, "tenant", "create", "Acme", "--domain", "pay.acme.test"))
    port = _free_port()
    proc = subprocess.Popen(
        [WALLET, "serve", "--self-signed", "--port", str(port), "--workers", "1", "--threads", "8"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(proc.stderr.read().decode()) from None
            time.sleep(0.1)
    yield {
        "url": f"https://127.0.0.1:{port}",
        "port": port,
        "cert": str(home / "tls" / "self-signed.crt"),
        "creds": creds,
    }
    proc.terminate()
    proc.wait(timeout=20)
    logs = proc.stderr.read().decode()
    assert VISA not in logs and creds["client_secret"] not in logs


def test_quick_start_over_https(server):
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE would override our own certificate
    s.verify = server["cert"]
    url, creds = server["url"], server["creds"]
    r = s.post(
        f"{url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
    )
    assert r.status_code == 200, r.text
    s.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
    assert r.headers["Strict-Transport-Security"].startswith("max-age=")
    assert "/" not in r.headers.get("Server", "")  # no version disclosed
    alice = s.post(f"{url}/v1/wallets", json={"owner_ref": "alice", "currency": "EUR"}).json()
    bob = s.post(f"{url}/v1/wallets", json={"owner_ref": "bob", "currency": "EUR"}).json()
    card = s.post(
        f"{url}/v1/cards", json={"pan": VISA, "expiry_month": 12, "expiry_year": 2030, "holder": "Alice"}
    ).json()
    assert card["last4"] == "1111" and VISA not in json.dumps(card)
    assert (
        s.post(
            f"{url}/v1/wallets/{alice['id']}/topups", json={"amount": "100.00", "card_id": card["id"]}
        ).status_code
        == 201
    )

    def send(i: int) -> int:
        body = {"from_wallet": alice["id"], "to_wallet": bob["id"], "amount": "2.50", "currency": "EUR"}
        return s.post(
            f"{url}/v1/transfers", json=body, headers={"Idempotency-Key": f"qs-{i:08d}"}
        ).status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(send, range(48)))
    assert codes.count(201) == 40 and codes.count(422) == 8  # the money runs out at exactly 40
    assert s.get(f"{url}/v1/wallets/{alice['id']}").json()["balance"] == "0.00"
    assert s.get(f"{url}/v1/wallets/{bob['id']}").json()["balance"] == "100.00"
    history = s.get(f"{url}/v1/wallets/{bob['id']}/transactions", params={"limit": 100}).json()
    assert len(history["data"]) == 40


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_tls_versions(server):
    modern = ssl.create_default_context(cafile=server["cert"])
    with (
        socket.create_connection(("127.0.0.1", server["port"])) as raw,
        modern.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
    legacy = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    legacy.check_hostname, legacy.verify_mode = False, ssl.CERT_NONE
    legacy.minimum_version = ssl.TLSVersion.TLSv1
    legacy.maximum_version = ssl.TLSVersion.TLSv1_1
    legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
    with (
        pytest.raises((ssl.SSLError, ConnectionError)),
        socket.create_connection(("127.0.0.1", server["port"])) as raw,
        legacy.wrap_socket(raw, server_hostname="127.0.0.1"),
    ):
        pass


def test_plain_http_is_refused(server):
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{server['port']}/healthz", timeout=5)


def test_self_signed_certificate(tmp_path):
    cert_path, key_path = self_signed(tmp_path, ("localhost", "127.0.0.1"))
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in names.get_values_for_type(x509.DNSName)
    assert key_path.stat().st_mode & 0o777 == 0o600
    options = gunicorn_options("127.0.0.1", 8443, cert_path, key_path, 2, 4)
    context = options["ssl_context"](None, lambda: ssl.create_default_context(ssl.Purpose.CLIENT_AUTH))
    assert context.minimum_version == ssl.TLSVersion.TLSv1_2
    assert options["bind"] == "127.0.0.1:8443" and options["accesslog"] is None


def test_workers_default_to_the_cpus_the_process_may_use():
    """A container's CPU set narrows the affinity mask; the default follows it, not the host's count."""
    narrowed = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from wallet.serve import usable_cpus; print(usable_cpus())"
    )
    done = subprocess.run([sys.executable, "-c", narrowed], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "1"


CPUS = len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("files", "quota", "workers"),
    [
        ({"cpu.max": "150000 100000\n"}, 1.5, min(CPUS, 2)),  # a part of a CPU counts as one
        ({"cpu.max": "max 100000\n"}, None, CPUS),
        ({"cpu/cpu.cfs_quota_us": "50000\n", "cpu/cpu.cfs_period_us": "100000\n"}, 0.5, 1),
        ({"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}, None, CPUS),
        ({"cpu.max": "garbage"}, None, CPUS),
        ({"cpu.max": "100000 0"}, None, CPUS),
        ({}, None, CPUS),
    ],
)
def test_a_containers_cpu_quota_caps_the_default_workers(tmp_path, files, quota, workers):
    from wallet.serve import cpu_quota, usable_cpus

    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    assert cpu_quota(tmp_path) == quota
    assert usable_cpus(tmp_path) == workers
