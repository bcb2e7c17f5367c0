"""What the scheduler has done: one mark per reminder, escalation step or daily digest, written in the same
transaction as the act. A mark is also the claim on its slot: of two processes that reach the same step, only
the one whose mark went in acts."""

from __future__ import annotations

from collections.abc import Sequence

from bot.store.db import Connection, Database


async def mark(conn: Connection, key: str, at: str, outcome: str = "sent") -> bool:
    """False when the mark was already there (someone else did, or skipped, this step)."""
    cursor = await conn.execute(
        "INSERT INTO schedule_marks (mark, at, outcome) VALUES (?, ?, ?) ON CONFLICT DO NOTHING", (key, at, outcome)
    )
    return cursor.rowcount == 1


async def marked(db: Database, keys: Sequence[str]) -> set[str]:
    """Which of these marks exist."""
    rows = await db.fetchall(f"SELECT mark FROM schedule_marks WHERE mark IN ({','.join('?' * len(keys))})", keys)
    return {r[0] for r in rows}
