"""The wallet runtime: a multi-tenant digital wallet built the way PCI DSS requires."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
__all__ = ["__version__", "create_app"]

if TYPE_CHECKING:
    from flask import Flask


def create_app(*args: Any, **kwargs: Any) -> Flask:
    from wallet.app import create_app as factory

    return factory(*args, **kwargs)
