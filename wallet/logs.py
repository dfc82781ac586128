"""Structured JSON logs, with any card number masked before a record is written."""

from __future__ import annotations

import json
import logging
import sys
from typing import Any

from wallet.cards import redact_pans

LOGGER = "wallet"


class RedactPans(logging.Filter):
    """Defence in depth: code never logs a PAN, and this masks one if it ever tries."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_pans(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "ts": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update(getattr(record, "fields", {}))
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__
        return redact_pans(json.dumps(out, default=str))


def configure(level: str = "INFO") -> logging.Logger:
    logger = logging.getLogger(LOGGER)
    logger.setLevel(level)
    if not any(isinstance(h.formatter, JsonFormatter) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
    if not any(isinstance(f, RedactPans) for f in logger.filters):
        logger.addFilter(RedactPans())
    return logger


def enabled(level: int) -> bool:
    """Whether `event` at this level would be written: callers skip building the fields otherwise."""
    return logging.getLogger(LOGGER).isEnabledFor(level)


def event(name: str, level: int = logging.INFO, **fields: Any) -> None:
    logging.getLogger(LOGGER).log(level, name, extra={"fields": fields})
