"""API keys for the Open311 door, and the request tokens it hands out. Writers open their own transaction.

A key is ``rb311_`` followed by 43 URL-safe characters (32 bytes from `secrets`), shown once when it is
created and never again: only its SHA-256 (hex) is stored. A plain hash is enough here, unlike for passwords,
because the secret is 256 random bits: there is nothing to guess from a leaked hash, so a salt or a slow hash
would add nothing. Looking a key up by its hash (an indexed equality) also means no comparison of secrets in
Python whose timing could leak a prefix.

Names are the client's identity (a city platform, "xuzhou-12345"): letters, digits, ``.``, ``_``, ``-``, up to
64 characters. At most one live key per name; revoking keeps the row (for the audit) and lets a new key be
created under the same name, so a rotated key still files reports as the same client.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from bot.store.db import Connection, Database, Row
from bot.store.errors import INTEGRITY_ERRORS

KEY_PREFIX = "rb311_"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_KEY = re.compile(r"^rb311_[A-Za-z0-9_-]{43}$")


class KeyNameError(ValueError):
    """A name that is not allowed (`code` = "invalid") or already has a live key (`code` = "taken")."""

    def __init__(self, code: str, name: str) -> None:
        super().__init__(f"{code}: {name!r}")
        self.code, self.name = code, name


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    created_at: str
    revoked_at: str | None


def valid_name(name: str) -> bool:
    return bool(_NAME.match(name or ""))


def key_hash(key: str) -> str:
    """SHA-256 (hex) of the key's text; the only form of a key we store."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _key(row: Row) -> ApiKey:
    return ApiKey(row["id"], row["name"], row["created_at"], row["revoked_at"])


async def create_key(db: Database, name: str, now: str) -> str:
    """A new key for `name`, returned once (raises KeyNameError for a bad name or one with a live key)."""
    if not valid_name(name):
        raise KeyNameError("invalid", name)
    key = new_key()
    try:
        async with db.transaction() as conn:
            await conn.execute(
                "INSERT INTO api_keys (name, key_hash, created_at) VALUES (?, ?, ?)", (name, key_hash(key), now)
            )
    except INTEGRITY_ERRORS as exc:  # the partial unique index: a live key of that name exists
        raise KeyNameError("taken", name) from exc
    return key


async def list_keys(db: Database) -> list[ApiKey]:
    rows = await db.fetchall("SELECT id, name, created_at, revoked_at FROM api_keys ORDER BY name, id")
    return [_key(r) for r in rows]


async def revoke_key(db: Database, name: str, now: str) -> bool:
    """Revoke the live key of `name`; False when there is none."""
    async with db.transaction() as conn:
        cursor = await conn.execute(
            "UPDATE api_keys SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL", (now, name)
        )
        return cursor.rowcount == 1


async def live_key(db: Database, key: str) -> ApiKey | None:
    """The live (not revoked) key whose text is `key`, or None. Text not shaped like a key is not even hashed."""
    if not _KEY.match(key or ""):
        return None
    row = await db.fetchone(
        "SELECT id, name, created_at, revoked_at FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL",
        (key_hash(key),),
    )
    return _key(row) if row else None


# ---------------------------------------------------------------------------------------------------- tokens


def new_token() -> str:
    return secrets.token_urlsafe(16)


async def insert_token(conn: Connection, token: str, report_id: int, key_id: int, now: str) -> None:
    """In the caller's transaction: the token is committed together with the report it names."""
    await conn.execute(
        "INSERT INTO open311_tokens (token, report_id, key_id, created_at) VALUES (?, ?, ?, ?)",
        (token, report_id, key_id, now),
    )


async def report_for_token(db: Database, token: str) -> int | None:
    if not token or len(token) > 64:
        return None
    row = await db.fetchone("SELECT report_id FROM open311_tokens WHERE token = ?", (token,))
    return int(row[0]) if row else None
