"""Database URLs: which backend a setting names, and how to print one without its password."""

from __future__ import annotations

import re
from urllib.parse import urlsplit, urlunsplit

SCHEMES = ("postgresql", "postgres")
_PASSWORD_IN_URL = re.compile(r"(postgres(?:ql)?://[^:/@\s]*:)[^@\s]*@", re.IGNORECASE)


def is_postgres_url(target: object) -> bool:
    return isinstance(target, str) and "://" in target and target.split("://", 1)[0].lower() in SCHEMES


def check_url(url: str) -> None:
    """Raise ValueError with a helpful message unless `url` is a usable postgresql:// URL."""
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme.lower() not in SCHEMES:
        raise ValueError(
            f"unsupported database URL {redact(url)!r}: the scheme must be postgresql:// (e.g."
            " postgresql://rider:PASSWORD@db.example.org:5432/rider); leave it unset for SQLite (db_path)"
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - parsing it is the check
    except ValueError as exc:
        raise ValueError(f"database URL {redact(url)!r} cannot be parsed: {exc}") from None
    if not parts.hostname and "host=" not in parts.query:
        raise ValueError(f"database URL {redact(url)!r} names no host")


def redact(url: str) -> str:
    """The URL without its password (for messages and logs): postgresql://rider:***@host/db."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return scrub(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return scrub(url)
    if ":" in host:
        host = f"[{host}]"
    netloc = f"{parts.username or ''}:***@{host}" + (f":{port}" if port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def scrub(text: str) -> str:
    """Any PostgreSQL URL's password in free text → ***."""
    return _PASSWORD_IN_URL.sub(r"\1***@", text)
