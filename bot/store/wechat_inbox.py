"""What the WeChat door remembers about incoming messages: the reply each finished message got (`wechat_inbox`, so
WeChat's retries get the same answer; that a message arrived, and whether it is done, is the inbound ledger's
business: bot/store/inbound.py) and each signed (timestamp, nonce) with its body's hash (`wechat_nonces`, so a
signed URL from an access log cannot carry another body)."""

from __future__ import annotations

from bot.store.db import Connection, Database


async def answered(conn: Connection, key: str, openid: str, at: str, reply: str) -> None:
    """The message is done and got `reply` ('' for "success": its answer went through the outbox)."""
    await conn.execute(
        "INSERT INTO wechat_inbox (key, openid, received_at, status, reply) VALUES (?, ?, ?, 'done', ?)"
        " ON CONFLICT(key) DO UPDATE SET status = 'done', reply = excluded.reply",
        (key, openid, at, reply),
    )


async def forget_messages(conn: Connection, before: str) -> None:
    await conn.execute("DELETE FROM wechat_inbox WHERE received_at < ?", (before,))


async def reply_given(db: Database, key: str) -> str:
    """The reply a finished message got ('' while it is still being worked on, or for "success")."""
    row = await db.fetchone("SELECT status, reply FROM wechat_inbox WHERE key = ?", (key,))
    return row["reply"] if row and row["status"] == "done" else ""


async def first_nonce(conn: Connection, timestamp: int, nonce: str, body_sha256: str, at: float) -> bool:
    """False when (timestamp, nonce) came before."""
    cursor = await conn.execute(
        "INSERT INTO wechat_nonces (timestamp, nonce, body_sha256, seen_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(timestamp, nonce) DO NOTHING",
        (timestamp, nonce, body_sha256, at),
    )
    return cursor.rowcount == 1


async def forget_nonces(conn: Connection, before: float) -> None:
    await conn.execute("DELETE FROM wechat_nonces WHERE seen_at < ?", (before,))


async def nonce_body(db: Database, timestamp: int, nonce: str) -> str | None:
    row = await db.fetchone(
        "SELECT body_sha256 FROM wechat_nonces WHERE timestamp = ? AND nonce = ?", (timestamp, nonce)
    )
    return row["body_sha256"] if row else None
