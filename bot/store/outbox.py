"""The outbox's rows as operators and monitors read and repair them: counts by status, the oldest due row, the
dead letters, a retry or a drop with its row in the append-only `outbox_audit`. Stamps are UTC ISO text with a Z
(one offset, so text order is time order)."""

from __future__ import annotations

from bot.store.db import Connection, Database, Row


async def status_counts(db: Database) -> dict[str, int]:
    return {r[0]: r[1] for r in await db.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")}


async def due(db: Database, now: str) -> tuple[str | None, int]:
    """(the oldest due row's next_at, how many are due) among rows not yet delivered; (None, 0) when none is."""
    row = await db.fetchone(
        "SELECT MIN(next_at), COUNT(*) FROM outbox WHERE status IN ('pending', 'sending') AND next_at <= ?", (now,)
    )
    return (row[0], row[1]) if row else (None, 0)


async def busy(db: Database, channel: str, address: str, now: str) -> bool:
    """Whether a row to this address is being sent or due."""
    row = await db.fetchone(
        "SELECT 1 FROM outbox WHERE channel = ? AND address = ?"
        " AND (status = 'sending' OR (status = 'pending' AND next_at <= ?)) LIMIT 1",
        (channel, address, now),
    )
    return row is not None


async def undelivered(db: Database, *, dead_only: bool = False, limit: int = 100) -> list[Row]:
    """Dead letters, or everything not yet delivered (pending, sending, dead), by id."""
    where = "status = 'dead'" if dead_only else "status != 'sent'"
    return await db.fetchall(f"SELECT * FROM outbox WHERE {where} ORDER BY id LIMIT ?", (limit,))


async def dead_in(conn: Connection) -> list[Row]:
    return list(await conn.execute_fetchall("SELECT * FROM outbox WHERE status = 'dead' ORDER BY id"))


async def row_in(conn: Connection, row_id: int) -> Row | None:
    found = list(await conn.execute_fetchall("SELECT * FROM outbox WHERE id = ?", (row_id,)))
    return found[0] if found else None


async def audit(conn: Connection, row: Row, at: str, action: str, actor: str, note: str) -> int:
    """One operator act on `row` (as it was before the act); returns the audit row's id."""
    cursor = await conn.execute(
        "INSERT INTO outbox_audit (at, outbox_id, action, actor, from_status, note) VALUES (?, ?, ?, ?, ?, ?)",
        (at, row["id"], action, actor, row["status"], note),
    )
    return int(cursor.lastrowid or 0)


async def revive(conn: Connection, row_id: int, now: str) -> None:
    """Pending and due now, attempts reset (back-off starts over); due again from now: the delivery latency does
    not count the time it lay dead."""
    await conn.execute(
        "UPDATE outbox SET status = 'pending', attempts = 0, next_at = ?, due_at = ? WHERE id = ?", (now, now, row_id)
    )


async def delete(conn: Connection, row_id: int) -> None:
    await conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
