"""Serving over TLS 1.2+ with gunicorn, and self-signed certificates for loopback use."""

from __future__ import annotations

import datetime as dt
import ipaddress
import math
import os
import ssl
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask


def self_signed(directory: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")) -> tuple[Path, Path]:
    """Write a fresh ECDSA P-256 key and a 90-day certificate for `hosts`; return (cert, key) paths."""
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = []
    for host in hosts:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, hosts[0])])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=90))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(key.public_key()), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = directory / "self-signed.crt", directory / "self-signed.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
    return cert_path, key_path


# TLS 1.2 suites with forward secrecy and authenticated encryption only (no CBC, no RSA key exchange,
# no SHA-1 MACs); TLS 1.3's suites are all AEAD and are configured apart from this list by OpenSSL.
TLS12_CIPHERS = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL:!SHA1:!SHA256:!SHA384"


def _tls12_or_later(_config: Any, default_factory: Any) -> ssl.SSLContext:
    """TLS 1.2 at least, 1.3 when the client has it (OpenSSL negotiates the highest common version),
    AEAD suites only, the server's order of preference, no compression and no renegotiation."""
    context: ssl.SSLContext = default_factory()
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.maximum_version = ssl.TLSVersion.MAXIMUM_SUPPORTED
    context.set_ciphers(TLS12_CIPHERS)
    context.options |= ssl.OP_CIPHER_SERVER_PREFERENCE | ssl.OP_NO_COMPRESSION | ssl.OP_NO_RENEGOTIATION
    return context


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """CPUs this process may use, as workers: its affinity mask (which a container's CPU set narrows),
    capped by the container's CPU quota. Each worker's interpreter lock keeps its Python to one core,
    and more workers than cores only add switching between them."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - platforms without affinity masks
        cpus = os.cpu_count() or 1
    quota = cpu_quota(cgroup)
    return max(1, min(cpus, math.ceil(quota))) if quota else cpus


def cpu_quota(cgroup: Path) -> float | None:
    """CPUs' worth of time per period the cgroup may use (v2 `cpu.max`, else v1 CFS quota); None when
    unlimited or unknown."""
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError, ArithmeticError):
        pass
    try:
        quota = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
        return quota / period if quota > 0 else None
    except (OSError, ValueError, ArithmeticError):
        return None


def gunicorn_options(
    host: str, port: int, cert: Path, key: Path, workers: int, threads: int, *, access_log: bool = False
) -> dict[str, Any]:
    from wallet import gunicorn_hardened

    return {
        "bind": f"{host}:{port}",
        "certfile": str(cert),
        "keyfile": str(key),
        "ssl_context": _tls12_or_later,
        "workers": workers,
        "threads": threads,
        **gunicorn_hardened.options(workers),
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "warning",
        "limit_request_line": 4094,
        "limit_request_fields": 50,
        "limit_request_field_size": 8190,
        "timeout": 30,
        "keepalive": 5,
    }


def housekeeping_hooks(app: Flask) -> dict[str, Any]:  # pragma: no cover - runs in served workers
    """Gunicorn hooks: each worker anchors the audit chain and reconciles top-ups in the background,
    and seals and anchors once more when it exits."""
    from wallet.housekeeping import Housekeeper

    keeper: list[Housekeeper] = []

    def post_worker_init(_worker: Any) -> None:
        keeper.append(Housekeeper(app.extensions["wallet"]))
        keeper[0].start()

    def worker_exit(_server: Any, _worker: Any) -> None:
        if keeper:
            keeper[0].stop()

    return {"post_worker_init": post_worker_init, "worker_exit": worker_exit}


def serve(app: Flask, options: dict[str, Any]) -> None:  # pragma: no cover - runs in the served process
    from gunicorn.app.base import BaseApplication

    class WalletServer(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for name, value in options.items():
                self.cfg.set(name, value)

        def load(self) -> Flask:
            return app

    WalletServer().run()
