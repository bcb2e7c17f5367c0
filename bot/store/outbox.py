"""The outbox's rows as operators and monitors read and repair them: counts by status, the oldest due row, the
dead letters, a retry or a drop with its row in the append-only `outbox_audit`. Stamps are UTC ISO text with a Z
(one offset, so text order is time order)."""

from __future__ import annotations

from typing import Any

from bot.store.db import Connection, Database, Row


async def status_counts(db: Database) -> dict[str, int]:
    return {r[0]: r[1] for r in await db.fetchall("SELECT status, COUNT(*) FROM outbox GROUP BY status")}


async def due(db: Database, now: str) -> tuple[str | None, int]:
    """(since when the oldest due row has been due, how many are due) among rows not yet delivered; (None, 0) when
    none is. Due from `due_at`: a receipt's grace (left to the door that answers) is waiting time too once over."""
    row = await db.fetchone(
        "SELECT MIN(COALESCE(due_at, next_at)), COUNT(*) FROM outbox"
        " WHERE status IN ('pending', 'sending') AND next_at <= ?",
        (now,),
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


# ------------------------------------------------------------------------------------ queueing and dispatching

Fence = tuple[str, tuple[Any, ...]]  # a condition a claim ANDs in (the leader's lock, bot/store/leadership.py)


_INSERT = (
    "INSERT INTO outbox (idem_key, user_id, channel, address, payload, next_at, created_at, due_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(idem_key) DO NOTHING"
)


async def insert(
    conn: Connection,
    idem_key: str,
    user_id: int | None,
    channel: str,
    address: str,
    payload: str,
    next_at: str,
    created_at: str,
    due_at: str,
) -> bool:
    """Queue one row in the caller's transaction; False if this idempotency key was queued before. `next_at`: the
    first attempt; `due_at`: when it became due to its person (what delivery latency counts from)."""
    cursor = await conn.execute(_INSERT, (idem_key, user_id, channel, address, payload, next_at, created_at, due_at))
    return cursor.rowcount == 1


async def insert_many(conn: Connection, batch: list[tuple[Any, ...]]) -> None:
    """`insert` for several rows at once (one round trip; in order): each (idem_key, user_id, channel, address,
    payload, next_at, created_at, due_at). Keys queued before are skipped."""
    await conn.executemany(_INSERT, batch)


async def requeue_sending(conn: Connection, fence: Fence) -> None:
    """Rows left 'sending' (a crash, the previous leader) go back to 'pending': sent again, at least once."""
    guard, params = fence
    await conn.execute("UPDATE outbox SET status = 'pending' WHERE status = 'sending'" + guard, params)


async def chat_heads(db: Database) -> list[Row]:
    """The oldest pending row of each chat, by id: per-chat order lets only it go, and one chat's long backlog
    cannot hide the others'."""
    return await db.fetchall(
        "SELECT * FROM outbox WHERE id IN"
        " (SELECT MIN(id) FROM outbox WHERE status = 'pending' GROUP BY channel, address) ORDER BY id"
    )


async def pending_by_key(db: Database, idem_key: str) -> Row | None:
    """The pending row with this key, and `behind`: whether an older row of its chat is still undelivered."""
    return await db.fetchone(
        "SELECT o.*, EXISTS (SELECT 1 FROM outbox p WHERE p.status IN ('pending', 'sending')"
        " AND p.channel = o.channel AND p.address = o.address AND p.id < o.id) AS behind"
        " FROM outbox o WHERE o.idem_key = ? AND o.status = 'pending'",
        (idem_key,),
    )


async def claim(db: Database, row_id: int, fence: Fence) -> bool:
    """'pending' → 'sending', one attempt more; False when another claim won or the fence no longer holds."""
    guard, params = fence
    claimed = await db.write(
        "UPDATE outbox SET status = 'sending', attempts = attempts + 1 WHERE id = ? AND status = 'pending'" + guard,
        (row_id, *params),
    )
    return claimed == 1


async def mark_sent(db: Database, row_id: int, at: str, ref: str) -> None:
    await db.write(
        "UPDATE outbox SET status = 'sent', sent_at = ?, result_ref = ?, last_error = '' WHERE id = ?",
        (at, ref, row_id),
    )


async def mark_dead(db: Database, row_id: int, error: str) -> None:
    await db.write("UPDATE outbox SET status = 'dead', last_error = ? WHERE id = ?", (error, row_id))


async def retry_at(db: Database, row_id: int, next_at: str, error: str) -> None:
    await db.write(
        "UPDATE outbox SET status = 'pending', next_at = ?, last_error = ? WHERE id = ?", (next_at, error, row_id)
    )
