"""`comply scan web`: probe a live HTTPS API from the outside (the deployed wallet or any other)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from compliance.cli.scan import scan_command
from compliance.targets.web import DEFAULT_MAX_REQUESTS  # stdlib only: the option needs its default

if TYPE_CHECKING:
    from compliance.targets import Target


@scan_command("web")
def scan_web_command(
    url: str = typer.Option(..., "--url", help="Base URL of the API (only this origin is probed)."),
    openapi: str | None = typer.Option(
        None, "--openapi", help="OpenAPI document (file or URL; default: URL/openapi.json)."
    ),
    credentials: Path | None = typer.Option(
        None,
        "--credentials",
        help="YAML list of clients, each {name, token_url, client_id, client_secret, host?, scope?} or "
        "{name, bearer}; two tenants' clients enable the tenant isolation check.",
    ),
    allow_write: bool = typer.Option(
        False, "--allow-write", help="Also probe POST/PUT/PATCH/DELETE operations (creates test objects)."
    ),
    probe_rate_limit: bool = typer.Option(
        False, "--probe-rate-limit", help="Send a burst of failed logins to the token endpoint (implied by "
        "--allow-write)."
    ),
    max_requests: int = typer.Option(
        DEFAULT_MAX_REQUESTS, "--max-requests", min=1, help="Hard cap on requests sent by the whole scan."
    ),
    concurrency: int = typer.Option(4, "--concurrency", min=1, max=16, help="Requests in flight at once."),
    rate_limit_burst: int = typer.Option(
        30, "--rate-limit-burst", min=2, max=500, help="Failed logins the rate-limit probe may send."
    ),
    ca_file: Path | None = typer.Option(
        None, "--ca-file", help="PEM CA certificate(s) to trust for a private CA or self-signed server."
    ),
    insecure: bool = typer.Option(
        False, "--insecure", help="Probe without verifying the certificate (it is still assessed)."
    ),
) -> Target:
    """Probe a live API's transport, authentication, card data, errors, headers and tenant isolation."""
    from compliance.targets.web import WebTarget

    return WebTarget(url=url, openapi=openapi, credentials=credentials, allow_write=allow_write,
                     probe_rate_limit=probe_rate_limit, max_requests=max_requests, concurrency=concurrency,
                     rate_limit_burst=rate_limit_burst, ca_file=ca_file, insecure=insecure)
