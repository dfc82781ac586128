"""An emulated AWS that is not one Python process: moto forked into replicas behind a small proxy.

One moto server answers every account from one interpreter, so with several shard processes calling
it, moto's own CPU (its response serialiser) sets the pace, not the scanner: AWS has no such shared
bottleneck between accounts. Here the organisation is built once, then the process forks `count`
replicas, each holding a copy of that state and answering with the 40 ms round trip of bench_scan.
The proxy sends each member account's calls to one replica: an STS AssumeRole goes to the replica
chosen by the role's account, and the keys it returns are pinned to that replica (moto knows assumed
keys only in the process that issued them); every other key (the management account's) goes to
replica 0. Collection is read-only apart from per-account state (IAM's credential report), which stays
in the account's replica.
"""

from __future__ import annotations

import http.client
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from moto.server import DomainDispatcherApplication, create_backend_app
from werkzeug.serving import make_server

from bench.bench_scan import ROUND_TRIP
from compliance.demo import free_port

_ROLE = re.compile(rb"RoleArn=arn%3Aaws%3Aiam%3A%3A(\d{12})%3A")
_KEY_IN_ANSWER = re.compile(rb"<AccessKeyId>([^<]+)</AccessKeyId>")
_KEY_IN_REQUEST = re.compile(r"Credential=([^/]+)/")
_HOP_BY_HOP = ("connection", "content-length", "transfer-encoding", "server", "date")


def _serve_replica(port: int, app: Any) -> None:
    """The forked child's whole life: serve `app` with the round trip's latency, never return."""
    def slow(environ: dict[str, Any], start_response: Any) -> Any:
        time.sleep(ROUND_TRIP)
        return app(environ, start_response)

    try:
        make_server("127.0.0.1", port, slow, threaded=True).serve_forever()
    finally:
        os._exit(0)


@contextmanager
def emulator() -> Iterator[tuple[str, Any]]:
    """moto without latency on a free port, serving through the WSGI app it yields with its URL: build
    and warm up through it (moto builds each service's app and parses its models on first use, seconds
    a service), then hand the app to `replicas`, whose forks inherit it warm."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server("127.0.0.1", free_port(), app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", app
    finally:
        server.shutdown()
        thread.join()


def _wait_for(port: int, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError(f"moto replica on port {port} did not start") from None
            time.sleep(0.05)


@contextmanager
def replicas(count: int, app: Any) -> Iterator[str]:
    """Fork `count` replicas of this process's moto state, each serving `app` (from `emulator`) with the
    round trip's latency, and yield the URL of the proxy before them. Call it with no moto server
    running (the state lives in moto's backends, not in a server)."""
    ports = [free_port() for _ in range(count)]
    children = []
    for port in ports:
        pid = os.fork()
        if pid == 0:
            _serve_replica(port, app)
        children.append(pid)
    for port in ports:
        _wait_for(port)
    pinned: dict[str, int] = {}
    lock = threading.Lock()

    class Proxy(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def setup(self) -> None:  # no Nagle: the head and the body are separate writes
            super().setup()
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def _forward(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            role = _ROLE.search(body)
            if role:
                replica = int(role.group(1)) % count
            else:
                key = _KEY_IN_REQUEST.search(self.headers.get("Authorization", ""))
                with lock:
                    replica = pinned.get(key.group(1), 0) if key else 0
            upstream = http.client.HTTPConnection("127.0.0.1", ports[replica], timeout=120)
            upstream.connect()
            upstream.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection", "host")}
            headers["Host"] = f"127.0.0.1:{ports[replica]}"
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            data = answer.read()
            upstream.close()
            if role and (issued := _KEY_IN_ANSWER.search(data)):
                with lock:
                    pinned[issued.group(1).decode()] = replica
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _forward

    proxy = ThreadingHTTPServer(("127.0.0.1", free_port()), Proxy)
    proxy.daemon_threads = True
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{proxy.server_address[1]}"
    finally:
        proxy.shutdown()
        for pid in children:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
