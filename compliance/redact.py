"""Secrets never reach output: database URLs are shown with the password masked, and any password
comply has seen is replaced by *** in whatever it prints (error lines, logs, tracebacks with --debug).
"""

from __future__ import annotations

_SECRETS: set[str] = set()
MASK = "***"


def mask_url(url: str) -> str:
    """The URL as a person may see it: SQLAlchemy's rendering with the password hidden."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError, TypeError):
        return _scrub_userinfo(url)
    if parsed.password:
        remember(str(parsed.password))
    return parsed.render_as_string(hide_password=True)


def _scrub_userinfo(url: str) -> str:
    """A URL SQLAlchemy cannot parse may still hold user:password@: mask what sits between : and @."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    userinfo, _, host = rest.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if colon and password:
        remember(password)
        return f"{scheme}://{user}:{MASK}@{host}"
    return url


def remember(secret: str) -> None:
    """From now on, `redact` hides this value wherever it appears (values under 4 characters excepted,
    since masking every 'a' would only garble the output)."""
    if len(secret) >= 4:
        _SECRETS.add(secret)
        from urllib.parse import quote

        _SECRETS.add(quote(secret, safe=""))


def redact(text: str) -> str:
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, MASK)
    return text
