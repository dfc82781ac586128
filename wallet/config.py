"""Settings: defaults, then a YAML file named by WALLET_CONFIG, then WALLET_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

import yaml

MAX_TOKEN_TTL = 900


class ConfigError(ValueError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Config:
    home: Path = Path("~/.wallet")
    database_url: str = ""
    key_file: str = ""
    kms_key_id: str = ""
    aws_region: str = ""
    issuer: str = "wallet"
    token_ttl: int = MAX_TOKEN_TTL
    rate_limit_per_second: float = 50.0
    rate_limit_burst: int = 100
    max_body_bytes: int = 16 * 1024
    acquirer: str = "test"
    log_level: str = "INFO"

    def __post_init__(self) -> None:
        if not 0 < self.token_ttl <= MAX_TOKEN_TTL:
            raise ConfigError(f"token_ttl must be between 1 and {MAX_TOKEN_TTL} seconds")
        if self.rate_limit_per_second <= 0 or self.rate_limit_burst < 1:
            raise ConfigError("rate limits must be positive")
        if self.max_body_bytes < 1024:
            raise ConfigError("max_body_bytes must be at least 1024")

    @property
    def home_dir(self) -> Path:
        return Path(self.home).expanduser()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'wallet.db'}"

    @property
    def key_path(self) -> Path:
        return Path(self.key_file).expanduser() if self.key_file else self.home_dir / "kek.key"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if path := env.get("WALLET_CONFIG"):
            values.update(_read_file(Path(path)))
        for f in fields(cls):
            if (raw := env.get(f"WALLET_{f.name.upper()}")) is not None:
                values[f.name] = raw
        values.update(overrides)
        return cls()._with(values)

    def _with(self, values: Mapping[str, Any]) -> Config:
        known = {f.name: f for f in fields(self)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(unknown)}")
        typed: dict[str, Any] = {}
        for name, raw in values.items():
            kind = type(getattr(self, name))
            try:
                typed[name] = kind(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"setting {name}: {raw!r} is not a valid {kind.__name__}") from None
        return replace(self, **typed)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except yaml.YAMLError:
        raise ConfigError(f"config file {path} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return data
