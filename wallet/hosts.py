"""Host names as the wallet compares them: one spelling per host, so that a tenant's domain cannot be
written another way (upper case, a trailing dot, an explicit port) to escape its token binding."""

from __future__ import annotations

import re

_PORT = re.compile(r":[0-9]*\Z")


class BadHost(ValueError):
    """A Host header that is not an ASCII host name or address."""


def normalise_host(host: str) -> str:
    """Lower case, port removed, trailing dots removed: `Pay.Acme.Test.:8443` -> `pay.acme.test`.
    A bracketed IPv6 literal keeps its brackets. Non-ASCII names are refused rather than guessed at
    (IDNA names arrive as ASCII `xn--` labels)."""
    if not host.isascii() or any(ch.isspace() or ord(ch) < 0x20 for ch in host):
        raise BadHost("the Host header must be an ASCII host name")
    if host.startswith("["):
        end = host.find("]")
        return host[: end + 1].lower() if end > 0 else host.lower()
    return _PORT.sub("", host).rstrip(".").lower()
