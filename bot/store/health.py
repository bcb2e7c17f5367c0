"""The readiness check's write: one row rewritten, so "the database is writable" is tested by writing."""

from __future__ import annotations

from bot.store.db import Database


async def touch(db: Database, at: str) -> None:
    await db.write(
        "INSERT INTO health_probe (id, at) VALUES (1, ?) ON CONFLICT(id) DO UPDATE SET at = excluded.at", (at,)
    )
