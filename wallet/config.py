"""Settings: defaults, then a YAML file named by WALLET_CONFIG, then WALLET_* environment variables.

The settings are a pydantic-settings model so that every value is checked once, at start-up, with a
one-line reason: a rate limit of `nan` or `inf` would otherwise switch rate limiting off silently, a
misspelt log level or acquirer would fail on the first request, and a malformed database URL on the
first query."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, PydanticBaseSettingsSource, SettingsConfigDict
from pydantic_settings.sources.utils import parse_env_vars
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

MAX_TOKEN_TTL = 900
# PCI DSS 8.3.4: lock an account out after no more than ten invalid attempts, for at least 30 minutes.
MAX_AUTH_FAILURES = 10
DATABASES = ("sqlite", "postgresql")
_REGION = re.compile(r"[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d{1,2}")
_KMS_KEY = re.compile(
    r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    r"|mrk-[0-9a-f]{32}"
    r"|alias/[A-Za-z0-9/_-]{1,250}"
    r"|arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:(key/[A-Za-z0-9-]{1,100}|alias/[A-Za-z0-9/_-]{1,250})"
)
_ISSUER = re.compile(r"[\x21-\x7e]{1,200}")


class ConfigError(ValueError):
    """A setting is missing or malformed."""


class Config(BaseSettings):
    """The wallet's settings; names match the WALLET_* variables (upper-cased) and the YAML keys."""

    model_config = SettingsConfigDict(
        env_prefix="WALLET_", extra="forbid", frozen=True, validate_default=True, hide_input_in_errors=True
    )

    home: Path = Path("~/.wallet")
    database_url: str = ""
    key_file: str = ""
    kms_key_id: str = ""
    aws_region: str = ""
    issuer: str = "wallet"
    token_ttl: int = Field(MAX_TOKEN_TTL, ge=1, le=MAX_TOKEN_TTL)
    rate_limit_per_second: float = Field(50.0, gt=0, allow_inf_nan=False)
    rate_limit_burst: int = Field(100, ge=1)
    max_body_bytes: int = Field(16 * 1024, ge=1024)
    acquirer: Literal["test", "http"] = "test"
    acquirer_url: str = ""
    acquirer_timeout: float = Field(10.0, gt=0, le=120, allow_inf_nan=False)
    topup_grace: float = Field(60.0, ge=0, allow_inf_nan=False)
    reconcile_interval: float = Field(30.0, ge=0, allow_inf_nan=False)
    audit_anchor: str = ""
    audit_key_file: str = ""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    auth_max_failures: int = Field(5, ge=1, le=MAX_AUTH_FAILURES)
    auth_lockout_seconds: int = Field(1800, ge=1, le=86_400)

    @classmethod
    def settings_customise_sources(
        cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource, *_: Any, **__: Any
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # `load` gathers the file, the environment and the overrides itself, in that order of precedence.
        return (init_settings,)

    @field_validator("home", mode="after")
    @classmethod
    def _home(cls, value: Path) -> Path:
        if not str(value).strip() or "\x00" in str(value):
            raise ValueError("must be a directory path")
        return value

    @field_validator("key_file", mode="after")
    @classmethod
    def _key_file(cls, value: str) -> str:
        if "\x00" in value or (value and not value.strip()):
            raise ValueError("must be a file path")
        return value

    @field_validator("database_url", mode="after")
    @classmethod
    def _database_url(cls, value: str) -> str:
        if not value:
            return value
        try:
            url = make_url(value)
        except (ArgumentError, ValueError):
            raise ValueError("must be an SQLAlchemy URL, e.g. postgresql+psycopg://user@db/wallet") from None
        if url.get_backend_name() not in DATABASES:
            raise ValueError(f"the wallet runs on {' or '.join(DATABASES)}, not {url.get_backend_name()}")
        return value

    @field_validator("kms_key_id", mode="after")
    @classmethod
    def _kms_key_id(cls, value: str) -> str:
        if value and not _KMS_KEY.fullmatch(value):
            raise ValueError("must be a KMS key id, key ARN, alias/NAME or alias ARN")
        return value

    @field_validator("aws_region", mode="after")
    @classmethod
    def _aws_region(cls, value: str) -> str:
        if value and not _REGION.fullmatch(value):
            raise ValueError("must be an AWS region name such as eu-west-1")
        return value

    @field_validator("issuer", mode="after")
    @classmethod
    def _issuer(cls, value: str) -> str:
        if not _ISSUER.fullmatch(value):
            raise ValueError("must be 1 to 200 printable ASCII characters without spaces")
        return value

    @field_validator("audit_anchor", mode="after")
    @classmethod
    def _audit_anchor(cls, value: str) -> str:
        if value.startswith("s3://") and not value.removeprefix("s3://").split("/")[0]:
            raise ValueError("an S3 anchor log is s3://bucket/prefix")
        if "\x00" in value:
            raise ValueError("must be s3://bucket/prefix or a directory")
        return value

    @model_validator(mode="after")
    def _acquirer_url(self) -> Config:
        from wallet.acquirer import check_acquirer_url

        if self.acquirer == "http" and (problem := check_acquirer_url(self.acquirer_url)):
            raise ValueError(problem)
        return self

    @field_validator("log_level", mode="before")
    @classmethod
    def _log_level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @property
    def home_dir(self) -> Path:
        return Path(self.home).expanduser()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite:///{self.home_dir / 'wallet.db'}"

    @property
    def audit_key_path(self) -> Path:
        return Path(self.audit_key_file).expanduser() if self.audit_key_file else self.home_dir / "audit.key"

    @property
    def anchor_location(self) -> str:
        """`s3://bucket/prefix`, or a directory (by default under the home) for the anchor log."""
        return self.audit_anchor or str(self.home_dir / "audit-anchors")

    @property
    def key_path(self) -> Path:
        return Path(self.key_file).expanduser() if self.key_file else self.home_dir / "kek.key"

    @classmethod
    def load(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        if path := env.get("WALLET_CONFIG"):
            values.update(_read_file(Path(path)))
        values.update(_Environment(cls, env)())
        values.update(overrides)
        unknown = sorted(set(values) - set(cls.model_fields))
        if unknown:
            raise ConfigError(f"unknown setting(s): {', '.join(map(str, unknown))}")
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ConfigError(_one_line(exc)) from None


class _Environment(EnvSettingsSource):
    """WALLET_* variables from a given mapping (the process environment unless a test passes its own)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return parse_env_vars(self._environ, False, self.env_ignore_empty, self.env_parse_none_str)


def _one_line(exc: ValidationError) -> str:
    """The first problem as `setting NAME: reason`, never repeating the value (it may hold a password)."""
    error = exc.errors(include_input=False, include_url=False)[0]
    name = ".".join(str(part) for part in error["loc"]) or "settings"
    reason = str(error["msg"]).removeprefix("Value error, ")
    more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
    return f"setting {name}: {reason}{more}"


def _read_file(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    except (yaml.YAMLError, UnicodeDecodeError):
        raise ConfigError(f"config file {path} is not valid YAML") from None
    if not isinstance(data, dict):
        raise ConfigError(f"config file {path} must hold a mapping of settings")
    return data
