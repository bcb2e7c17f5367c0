"""The Telegram webhook's secret token, one per bot, shared through the database by every process behind the
load balancer (PostgreSQL). Each process calls setWebhook with it at start; were each to make its own, the last
one to start would make Telegram send a secret the others refuse (403), and their updates would wait for
retries."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store.db import Database


async def shared_secret(db: Database, bot: str, candidate: str) -> str:
    """The bot's secret: `candidate` if this is the first process ever to ask, else the one stored before (the
    primary key decides between processes starting at the same moment)."""
    await db.write(
        "INSERT INTO webhook_secrets (bot, secret, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (bot, candidate, datetime.now(UTC).isoformat(timespec="seconds")),
    )
    row = await db.fetchone("SELECT secret FROM webhook_secrets WHERE bot = ?", (bot,))
    assert row is not None
    return str(row[0])
