"""Everything a running wallet holds once: settings, database, keys, acquirer, limits, tenant domains."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from wallet.acquirer import Acquirer, make_acquirer
from wallet.anchors import AnchorLog, AuditKey, anchor_log
from wallet.audit import Sealer
from wallet.auth import VerifiedTokens
from wallet.config import Config
from wallet.db import admin_session, make_engine, session_factory
from wallet.guards import RateLimiter
from wallet.hosts import normalise_host
from wallet.keys import KeyEncryptionKey, SigningKeys, make_kek
from wallet.models import Tenant


class DomainCache:
    """Host name -> tenant id, re-read from the database at most every `ttl` seconds."""

    def __init__(self, sessions: sessionmaker[Session], ttl: float = 10.0) -> None:
        self._sessions, self._ttl = sessions, ttl
        self._map: dict[str, str] = {}
        self._at = float("-inf")
        self._lock = threading.Lock()

    def tenant_for(self, name: str) -> str | None:
        """The tenant whose domain is `name`, a host already passed through `normalise_host`."""
        with self._lock:
            if time.monotonic() - self._at > self._ttl:
                with admin_session(self._sessions) as s:
                    self._map = {normalise_host(d): t for t, d in s.execute(select(Tenant.id, Tenant.domain))}
                self._at = time.monotonic()
            return self._map.get(name)

    def invalidate(self) -> None:
        with self._lock:
            self._at = float("-inf")


@dataclass
class Runtime:
    config: Config
    engine: Engine
    sessions: sessionmaker[Session]
    kek: KeyEncryptionKey
    signing: SigningKeys
    acquirer: Acquirer
    limiter: RateLimiter
    audit_key: AuditKey
    anchors: AnchorLog
    domains: DomainCache = field(init=False)
    sealer: Sealer = field(init=False)
    tokens: VerifiedTokens = field(init=False)

    def __post_init__(self) -> None:
        self.domains = DomainCache(self.sessions)
        self.sealer = Sealer(self.sessions, self.audit_key)
        self.tokens = VerifiedTokens()

    @classmethod
    def build(cls, config: Config, acquirer: Acquirer | None = None) -> Runtime:
        config.home_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        engine = make_engine(config.db_url)
        kek = make_kek(config.key_path, config.kms_key_id, config.aws_region)
        return cls(
            config=config,
            engine=engine,
            sessions=session_factory(engine),
            kek=kek,
            signing=SigningKeys(kek),
            acquirer=acquirer or make_acquirer(config.acquirer, config.acquirer_url, config.acquirer_timeout),
            limiter=RateLimiter(config.rate_limit_per_second, config.rate_limit_burst),
            audit_key=AuditKey.load(config.audit_key_path, create=True),
            anchors=anchor_log(config.anchor_location, region=config.aws_region),
        )
