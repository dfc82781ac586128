"""gunicorn itself, as an outside tester meets it: a real `wallet serve` over TLS on 127.0.0.1 fed raw
malformed requests over a socket. No card number may come back in a response or reach the server's
logs or home directory; gunicorn's own error pages are problem JSON with the security headers; no
`Server` banner; TLS 1.2+ with AEAD suites only."""

import email.utils
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.wallet.conftest import MASTERCARD, VISA
from wallet.guards import SECURITY_HEADERS

WALLET = str(Path(sys.executable).parent / "wallet")
AMEX_SPACED = "3782 822463 10005"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _run(env, *args):
    done = subprocess.run([WALLET, *args], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    home = tmp_path_factory.mktemp("gunicorn-home")
    logs = tmp_path_factory.mktemp("gunicorn-logs")
    env = {**os.environ, "WALLET_HOME": str(home), "WALLET_RATE_LIMIT_PER_SECOND": "1000"}
    env.pop("WALLET_DATABASE_URL", None)
    _run(env, "db", "upgrade")
    creds = json.loads(_run(env, "tenant", "create", "Raw", "--domain", "raw.example.test"))
    port = _free_port()
    out, err = (logs / "stdout.log").open("wb"), (logs / "stderr.log").open("wb")
    proc = subprocess.Popen(
        [
            WALLET,
            "serve",
            "--self-signed",
            "--port",
            str(port),
            "--workers",
            "2",
            "--threads",
            "4",
            "--access-log",
        ],
        env=env,
        stdout=out,
        stderr=err,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None, (logs / "stderr.log").read_text()
            time.sleep(0.1)
    info = {
        "pid": proc.pid,
        "port": port,
        "cert": str(home / "tls" / "self-signed.crt"),
        "creds": creds,
        "home": home,
        "logs": logs,
    }
    yield info
    proc.terminate()
    proc.wait(timeout=30)
    out.close()
    err.close()
    _assert_clean(info)


def _tls(served, context=None):
    context = context or ssl.create_default_context(cafile=served["cert"])
    raw = socket.create_connection(("127.0.0.1", served["port"]), timeout=10)
    return context.wrap_socket(raw, server_hostname="127.0.0.1")


def _raw(served, request: bytes) -> tuple[int, dict[str, str], bytes]:
    with _tls(served) as tls:
        tls.sendall(request)
        data = b""
        while chunk := tls.recv(65536):  # until the first response is complete or the server closes
            data += chunk
            head, sep, rest = data.partition(b"\r\n\r\n")
            length = [
                v
                for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
                if k.lower() == b"content-length"
            ]
            if sep and length and len(rest) >= int(length[0]):
                break
    for pan in (VISA, MASTERCARD, AMEX_SPACED, "1111"):
        assert pan.encode() not in data  # in the first response or anything after it
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, rest[: int(headers["content-length"])]


MALFORMED = {
    "header name holding a PAN": f"GET /healthz HTTP/1.1\r\nHost: x\r\nCard {VISA}: y\r\n\r\n",
    "header name with a control char": f"GET /healthz HTTP/1.1\r\nHost: x\r\n{VISA}\x01: y\r\n\r\n",
    "method holding a PAN": f"X{VISA} /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    "version holding a PAN": f"GET /healthz HTTP/{VISA}\r\nHost: x\r\n\r\n",
    "request line with a NUL": f"GET /{VISA}\x00 HTTP/1.1\r\nHost: x\r\n\r\n",
    "header value with a NUL": f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Card: {MASTERCARD}\x00\r\n\r\n",
    "folded header": f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\r\n {AMEX_SPACED}\r\n\r\n",
    "bad chunk size": (
        "POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        f"{VISA}zz\r\nab\r\n0\r\n\r\n"
    ),
    "unsupported transfer coding": (
        f"POST /oauth/token HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: {VISA}\r\n\r\n"
    ),
    "request line too long": f"GET /{VISA}{'a' * 5000} HTTP/1.1\r\nHost: x\r\n\r\n",
    "too many headers": "GET / HTTP/1.1\r\nHost: x\r\n"
    + "".join(f"X-{i}: {VISA}\r\n" for i in range(60))
    + "\r\n",
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_requests_get_problem_json(served, case):
    status, headers, body = _raw(served, MALFORMED[case].encode("latin-1"))
    assert 400 <= status < 600 and status != 500, (case, status, body)
    assert headers["content-type"] == "application/problem+json"
    problem = json.loads(body)
    assert problem["status"] == status and problem["title"]
    for name, value in SECURITY_HEADERS.items():
        assert headers[name.lower()] == value
    assert "server" not in headers
    for pan in (VISA, MASTERCARD, AMEX_SPACED, "1111"):
        assert pan.encode() not in body


def test_app_responses_have_no_banner_and_no_card_number(served):
    s = requests.Session()
    s.trust_env, s.verify = False, served["cert"]
    url = f"https://127.0.0.1:{served['port']}"
    creds = served["creds"]
    token = s.post(
        f"{url}/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(creds["client_id"], creds["client_secret"]),
    )
    assert token.status_code == 200 and "Server" not in token.headers
    s.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
    card = s.post(
        f"{url}/v1/cards", json={"pan": VISA, "expiry_month": 12, "expiry_year": 2099, "holder": "Raw"}
    )
    assert card.status_code in (201, 409) and VISA not in card.text
    # card numbers where they do not belong: the path, the query, a Basic user name, a header
    for r in (
        s.get(f"{url}/v1/wallets/{VISA}"),
        s.get(f"{url}/v1/wallets", params={"owner_ref": MASTERCARD}),
        requests.post(
            f"{url}/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(VISA, "x"),
            verify=served["cert"],
        ),
        s.get(f"{url}/healthz", headers={"X-Note": f"card {AMEX_SPACED}"}),
        s.get(f"{url}/nowhere/{MASTERCARD}"),
    ):
        assert r.status_code < 500 and "Server" not in r.headers
        assert VISA not in r.text and MASTERCARD not in r.text


def test_responses_carry_the_current_date_and_say_whether_the_connection_stays(served):
    url = f"https://127.0.0.1:{served['port']}/healthz"
    kept = requests.get(url, verify=served["cert"])
    closed = requests.get(url, verify=served["cert"], headers={"Connection": "close"})
    for r in (kept, closed):
        sent = email.utils.parsedate_to_datetime(r.headers["Date"])
        assert abs(sent.timestamp() - time.time()) < 5 and r.headers["Date"].endswith(" GMT")
    assert kept.headers["Connection"] == "keep-alive" and closed.headers["Connection"] == "close"
    assert kept.raw.version == 11


def test_tls_refuses_cbc_suites_and_old_versions(served):
    modern = ssl.create_default_context(cafile=served["cert"])
    with _tls(served, modern) as tls:
        assert tls.version() == "TLSv1.3"
    tls12 = ssl.create_default_context(cafile=served["cert"])
    tls12.maximum_version = ssl.TLSVersion.TLSv1_2
    with _tls(served, tls12) as tls:
        name, version, _ = tls.cipher()
        assert version == "TLSv1.2" and ("GCM" in name or "CHACHA20" in name)
    cbc = ssl.create_default_context(cafile=served["cert"])
    cbc.maximum_version = ssl.TLSVersion.TLSv1_2
    cbc.set_ciphers("ECDHE+AES256+SHA384:ECDHE+AES128+SHA256:ECDHE+AES+SHA1:AES128-SHA:AES256-SHA")
    offered = [c for c in cbc.get_ciphers() if c["protocol"] == "TLSv1.2"]
    assert offered and not any(c["aead"] for c in offered)  # the client offers CBC suites only
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _tls(served, cbc).close()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion:DeprecationWarning")
def test_tls_refuses_tls_1_1(served):
    legacy = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    legacy.check_hostname, legacy.verify_mode = False, ssl.CERT_NONE
    legacy.minimum_version = ssl.TLSVersion.TLSv1
    legacy.maximum_version = ssl.TLSVersion.TLSv1_1
    legacy.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _tls(served, legacy).close()


def test_no_card_number_in_logs_or_home(served):
    """Send card numbers every way a client can, then search everything the server wrote so far (the
    fixture searches once more after the server has stopped)."""
    for request in MALFORMED.values():
        _raw(served, request.encode("latin-1"))
    test_app_responses_have_no_banner_and_no_card_number(served)
    time.sleep(0.5)
    written = _assert_clean(served)
    assert "[PAN]" in written  # the masking ran: the access log saw the card-number paths
    lines = [json.loads(line) for line in written.splitlines() if line.startswith("{")]
    assert any(line["logger"] == "gunicorn.access" for line in lines)
    assert any(line["logger"] == "gunicorn.error" and "malformed request" in line["msg"] for line in lines)


NEEDLES = [
    VISA,
    MASTERCARD,
    AMEX_SPACED,
    AMEX_SPACED.replace(" ", ""),
    "4111 1111 1111 1111",
    "4111-1111-1111-1111",
]


def _assert_clean(served) -> str:
    """No card number in the server's logs or in any file under its home; returns the logs' text."""
    logs = Path(served["logs"])
    written = "".join(p.read_text(errors="replace") for p in sorted(logs.iterdir()))
    files = [p for p in Path(served["home"]).rglob("*") if p.is_file()]
    assert files, "the server's home is empty"
    for path in [*files, *logs.iterdir()]:
        data = path.read_bytes()
        for needle in NEEDLES:
            assert needle.encode() not in data, f"a card number is in {path}"
    return written


def test_problem_worker_in_process(caplog):
    """The same parts, in this process, for the cases a live server cannot be made to hit."""
    from gunicorn.config import Config as GunicornConfig
    from gunicorn.http import errors as http_errors

    from wallet.gunicorn_hardened import MaskedLogger, ProblemWorker, classify

    assert classify(http_errors.InvalidHeaderName(VISA)) == (400, "Malformed request")
    assert classify(http_errors.LimitRequestHeaders("x"))[0] == 431
    assert classify(http_errors.ForbiddenProxyRequest("h"))[0] == 403
    assert classify(RuntimeError("boom")) == (500, "Internal error")
    cfg = GunicornConfig()
    cfg.set("accesslog", "-")
    log = MaskedLogger(cfg)
    worker = ProblemWorker.__new__(ProblemWorker)
    worker.log = log
    for exc, status in ((http_errors.InvalidHeaderName(VISA), 400), (RuntimeError(VISA), 500)):
        ours, theirs = socket.socketpair()
        with ours, theirs:
            try:
                raise exc
            except Exception as caught:
                worker.handle_error(None, ours, ("10.0.0.1", 1), caught)
            answer = theirs.recv(65536)
        assert answer.startswith(f"HTTP/1.1 {status} ".encode()) and VISA.encode() not in answer
    ours, theirs = socket.socketpair()
    with ours, theirs:
        worker.handle_error(None, ours, None, ssl.SSLError(1, "bad handshake"))
        ours.shutdown(socket.SHUT_WR)
        assert theirs.recv(10) == b""  # no HTTP answer on a failed TLS handshake
    ours, theirs = socket.socketpair()
    theirs.close()
    ours.close()
    worker.handle_error(None, ours, None, http_errors.InvalidHeader("x"))  # a closed socket: logged only


def test_lockout_holds_across_worker_processes(tmp_path):
    """Three gunicorn workers, each guess on a new connection (so the workers share them out): the
    count lives in the database, so exactly auth_max_failures guesses are checked in all, not per worker."""
    home = tmp_path / "home"
    env = {**os.environ, "WALLET_HOME": str(home), "WALLET_AUTH_MAX_FAILURES": "4"}
    env.pop("WALLET_DATABASE_URL", None)
    _run(env, "db", "upgrade")
    creds = json.loads(_run(env, "tenant", "create", "Guess", "--domain", "guess.example.test"))
    port = _free_port()
    with (tmp_path / "err.log").open("wb") as err:
        command = [WALLET, "serve", "--self-signed", "--port", str(port), "--workers", "3", "--threads", "2"]
        proc = subprocess.Popen(command, env=env, stdout=err, stderr=err)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            cert = str(home / "tls" / "self-signed.crt")
            codes = []
            for i in range(9):
                with requests.Session() as s:  # a new connection each time
                    s.trust_env = False
                    r = s.post(
                        f"https://127.0.0.1:{port}/oauth/token",
                        data={"grant_type": "client_credentials"},
                        auth=(creds["client_id"], f"guess-{i}"),
                        verify=cert,
                    )
                    codes.append(r.status_code)
            assert codes == [401] * 4 + [429] * 5
            assert int(r.headers["Retry-After"]) > 1700
        finally:
            proc.terminate()
            proc.wait(timeout=30)


def _keep_alive_get(tls: ssl.SSLSocket, buffer: bytearray) -> int:
    tls.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    while b"\r\n\r\n" not in buffer:
        buffer += tls.recv(65536)
    head, _, rest = bytes(buffer).partition(b"\r\n\r\n")
    length = int(
        next(
            v
            for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
            if k.lower() == b"content-length"
        )
    )
    while len(rest) < length:
        rest += tls.recv(65536)
    buffer[:] = rest[length:]
    assert b"keep-alive" in head.lower()
    return int(head.split(b" ", 2)[1])


def test_kept_alive_connections_are_all_served(served):
    """More kept-alive connections than a worker has threads, used in turns, some after a pause longer
    than a thread waits for a connection's next request: every request is answered on its connection."""
    from wallet.gunicorn_hardened import KEEPALIVE_LINGER

    connections: list[tuple[ssl.SSLSocket, bytearray]] = []
    try:
        for _ in range(10):  # a thread serves a new connection until its first request: send it at once
            connections.append((_tls(served), bytearray()))
            assert _keep_alive_get(*connections[-1]) == 200
        for round_ in range(4):
            for tls, buffer in connections:
                assert _keep_alive_get(tls, buffer) == 200
            if round_ == 1:
                time.sleep(KEEPALIVE_LINGER * 3)  # every connection goes back to the poller
        tls, buffer = connections[0]
        assert [_keep_alive_get(tls, buffer) for _ in range(20)] == [200] * 20
    finally:
        for tls, _ in connections:
            tls.close()


def _connections_per_worker(served) -> list[int]:
    """Established connections to the server's port that each worker process holds, read from /proc."""
    port = f":{served['port']:04X}"
    sockets = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(port) and fields[3] == "01":
            sockets.add(f"socket:[{fields[9]}]")
    workers = [
        stat.parent
        for stat in Path("/proc").glob("[0-9]*/stat")
        if stat.read_text().rsplit(")", 1)[-1].split()[1] == str(served["pid"])
    ]
    return [sum(os.readlink(fd) in sockets for fd in (w / "fd").iterdir()) for w in workers]


def _probe(served, times: int = 6) -> None:
    """Connect and hang up before any TLS handshake, as port probes and TCP health checks do."""
    for _ in range(times):
        socket.create_connection(("127.0.0.1", served["port"]), timeout=10).close()
    time.sleep(0.5)


def test_kept_alive_connections_are_spread_over_the_workers(served):
    """A kept-alive connection stays with the worker that accepted it: eight clients arriving one after
    another end up four and four on the two workers, not piled on whichever woke first. Connections
    dropped before their TLS handshake (port probes, health checks) come first: gthread counted each
    of those out twice, and a worker's count, once low, let it take more than its share for good."""
    _probe(served)
    connections: list[tuple[ssl.SSLSocket, bytearray]] = []
    try:
        before = _connections_per_worker(served)
        for _ in range(8):
            connections.append((_tls(served), bytearray()))
            assert _keep_alive_get(*connections[-1]) == 200
        counts = _connections_per_worker(served)
        assert len(counts) == 2 and sum(counts) - sum(before) == 8
        assert max(counts) - min(counts) <= 2, counts
    finally:
        for tls, _ in connections:
            tls.close()


def test_a_new_connection_is_answered_while_every_thread_has_a_busy_client(served):
    """Eight clients sending back to back keep every thread of both workers (two of four) busy; two
    more connections must still be answered promptly, not wait for a busy client to pause. Probes
    first, as in the test above: with the count run low, the threads stayed with their busy clients
    and a new connection's TLS handshake timed out (seconds of waiting, seen in the benchmark)."""
    import threading

    _probe(served)
    stop = threading.Event()

    def busy() -> None:
        tls, buffer = _tls(served), bytearray()
        with tls:
            while not stop.is_set():
                _keep_alive_get(tls, buffer)

    clients = [threading.Thread(target=busy) for _ in range(8)]
    for client in clients:
        client.start()
    try:
        time.sleep(1)
        waits = []
        for _ in range(2):
            started = time.monotonic()
            with _tls(served) as tls:
                assert _keep_alive_get(tls, bytearray()) == 200
            waits.append(time.monotonic() - started)
        assert max(waits) < 1.5, waits
    finally:
        stop.set()
        for client in clients:
            client.join(timeout=10)


def test_the_connection_share_always_leaves_a_worker_below_it():
    from wallet.gunicorn_hardened import ConnectionShare

    share = ConnectionShare(4)
    assert [share.claim() for _ in range(5)] == [0, 1, 2, 3, None]  # no slot: accepts as gthread does
    for counts in ([0, 0, 0, 0], [5, 0, 0, 0], [3, 3, 2, 0], [7, 7, 7, 7]):
        share.counts[:] = counts
        assert min(counts) < share.fair(), counts
    share.counts[:] = [6, 6, 0, 0]
    share.release(3)  # a worker exited: three share the twelve, and the idle one takes the next
    assert share.fair() == 5
    share.release(2)  # the idle one exited too: the other two must not both stop accepting
    assert share.fair() == 7
    assert share.claim() == 2 and list(share.counts) == [6, 6, 0, -1]


def test_next_request_waits_briefly_for_a_kept_alive_connection():
    import io
    from types import SimpleNamespace

    from wallet.gunicorn_hardened import KEEPALIVE_LINGER, _next_request

    ours, theirs = socket.socketpair()
    with ours, theirs:
        conn = SimpleNamespace(sock=ours, parser=SimpleNamespace(unreader=SimpleNamespace(buf=io.BytesIO())))
        started = time.monotonic()
        assert not _next_request(conn)  # nothing came: back to the poller after the linger
        assert time.monotonic() - started >= KEEPALIVE_LINGER * 0.9
        theirs.sendall(b"GET / HTTP/1.1\r\n")
        assert _next_request(conn)  # the next request arrived
        conn.parser.unreader.buf.write(b"GET")
        ours.recv(100)
        assert _next_request(conn)  # already read ahead into the buffer


def test_a_workers_settings_are_read_once():
    from gunicorn.config import Config

    from wallet.gunicorn_hardened import SettledConfig

    cfg = Config()
    cfg.set("threads", 8)
    settled = SettledConfig(cfg)
    assert settled.threads == 8 and settled.keepalive == cfg.keepalive
    cfg.set("threads", 3)  # the arbiter's copy may change on a reload; a running worker's does not
    assert settled.threads == 8
    with pytest.raises(AttributeError):
        _ = settled.no_such_setting
