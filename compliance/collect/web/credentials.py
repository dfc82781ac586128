"""`--credentials FILE`: the API clients a web scan may act as, one per tenant.

A YAML list; each client is either `{name, token_url, client_id, client_secret, host?, scope?}`
(an OAuth2 client-credentials client) or `{name, bearer}` (a token obtained elsewhere). A file of
another shape is refused as a whole, with the first problem in one line.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from compliance.errors import UsageError
from compliance.redact import remember

_OAUTH = {"name", "token_url", "client_id", "client_secret"}
_OPTIONAL = {"host", "scope"}


@dataclass(frozen=True)
class Client:
    name: str
    token_url: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    bearer: str | None = None
    host: str | None = None
    scope: str | None = None

    def __repr__(self) -> str:  # never print a secret, even in a debugger or a traceback
        return f"Client(name={self.name!r}, token_url={self.token_url!r}, host={self.host!r})"


def parse_clients(data: Any, source: str) -> list[Client]:
    if isinstance(data, dict) and isinstance(data.get("clients"), list):
        data = data["clients"]
    if not isinstance(data, list) or not data:
        raise UsageError(f"credentials file {source}: expected a YAML list of clients")
    clients: list[Client] = []
    for n, entry in enumerate(data, 1):
        where = f"credentials file {source}: client {n}"
        if not isinstance(entry, dict):
            raise UsageError(f"{where} is not a mapping")
        keys = set(entry)
        if not all(isinstance(entry[k], str) and entry[k].strip() for k in keys):
            raise UsageError(f"{where}: every value must be a non-empty string")
        if keys == {"name", "bearer"}:
            client = Client(entry["name"], bearer=entry["bearer"])
        elif _OAUTH <= keys <= _OAUTH | _OPTIONAL:
            client = Client(entry["name"], entry["token_url"], entry["client_id"], entry["client_secret"],
                            host=entry.get("host"), scope=entry.get("scope"))
        else:
            raise UsageError(f"{where} has keys {sorted(keys)}: expected {{name, token_url, client_id, "
                             "client_secret, host?, scope?}} or {name, bearer}")
        if any(c.name == client.name for c in clients):
            raise UsageError(f"{where}: name {client.name!r} is used twice")
        for secret in (client.client_secret, client.bearer):
            if secret:
                remember(secret)
        clients.append(client)
    return clients


def load_clients(path: Path) -> list[Client]:
    try:
        data = yaml.safe_load(path.read_text("utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read credentials file {path}: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise UsageError(f"credentials file {path} is not valid YAML") from None
    return parse_clients(data, str(path))
