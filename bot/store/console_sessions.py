"""The web console's sign-in: one-time links and session cookies, stored only as SHA-256 hashes (a leaked
backup opens nothing). Stamps are UTC ISO text, compared as text (one offset, so text order is time order)."""

from __future__ import annotations

from bot.store.db import Connection, Database, Row


async def links_since(conn: Connection, user_id: int, since: str) -> int:
    cursor = await conn.execute(
        "SELECT COUNT(*) FROM console_links WHERE user_id = ? AND created_at > ?", (user_id, since)
    )
    (count,) = await cursor.fetchone()
    return int(count)


async def insert_link(conn: Connection, token_hash: str, user_id: int, at: str, expires_at: str) -> None:
    await conn.execute(
        "INSERT INTO console_links (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (token_hash, user_id, at, expires_at),
    )


async def forget_expired(conn: Connection, before: str) -> None:
    """Links and sessions that ended before `before` are useless: gone."""
    await conn.execute("DELETE FROM console_links WHERE expires_at < ?", (before,))
    await conn.execute("DELETE FROM console_sessions WHERE expires_at < ?", (before,))


async def link(db: Database, token_hash: str) -> Row | None:
    """user_id, expires_at, used_at."""
    return await db.fetchone(
        "SELECT user_id, expires_at, used_at FROM console_links WHERE token_hash = ?", (token_hash,)
    )


async def spend_link(conn: Connection, token_hash: str, at: str) -> bool:
    """Once, even if two tabs race: False when it was used or had expired."""
    cursor = await conn.execute(
        "UPDATE console_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?",
        (at, token_hash, at),
    )
    return cursor.rowcount == 1


async def insert_session(conn: Connection, token_hash: str, user_id: int, at: str, expires_at: str) -> None:
    await conn.execute(
        "INSERT INTO console_sessions (token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
        (token_hash, user_id, at, expires_at),
    )


async def session(db: Database, token_hash: str) -> Row | None:
    """user_id, expires_at, signed_out_at."""
    return await db.fetchone(
        "SELECT user_id, expires_at, signed_out_at FROM console_sessions WHERE token_hash = ?", (token_hash,)
    )


async def sign_out(db: Database, token_hash: str, at: str) -> None:
    await db.write(
        "UPDATE console_sessions SET signed_out_at = ? WHERE token_hash = ? AND signed_out_at IS NULL",
        (at, token_hash),
    )
