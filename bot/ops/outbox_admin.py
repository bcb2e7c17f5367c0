"""Dead letters by hand: list the outbox, send dead rows again, or drop a row — each change audited.

The dispatcher gives a row up ('dead') when retrying cannot help: the person blocked the bot, the chat is gone,
the message was refused. After the cause is fixed (the user unblocked, a bad payload fixed in code) an operator
retries it; a row that must never go out is dropped. Either way `outbox_audit` keeps who, when, and what the row
was (a dropped row's full content), and the audit table refuses updates and deletes.

The running bot picks a retried row up by itself within a few seconds: the dispatcher looks again at least
every 5 s even when nobody wakes it, so this command needs no connection to the running process (on PostgreSQL
it also wakes the leader at once with a NOTIFY).
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from bot.outbox.store import stamp
from bot.store.db import Connection, Database, Row
from bot.store.leadership import notify_leader


@dataclass(frozen=True)
class OutboxEntry:
    id: int
    status: str
    channel: str
    address: str
    attempts: int
    next_at: str
    created_at: str
    idem_key: str
    last_error: str


class OutboxAdminError(Exception):
    """`code` names the text to show (ops.outbox.<code>); the row's id and status fill it in."""

    def __init__(self, code: str, row_id: int, status: str = "") -> None:
        super().__init__(code)
        self.code, self.row_id, self.status = code, row_id, status


def whoami() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry (a container running under a bare uid)
        return "unknown"


def _entry(row: Row) -> OutboxEntry:
    return OutboxEntry(
        row["id"], row["status"], row["channel"], row["address"], row["attempts"], row["next_at"],
        row["created_at"], row["idem_key"], row["last_error"],
    )  # fmt: skip


async def list_rows(db: Database, *, dead_only: bool = False, limit: int = 100) -> list[OutboxEntry]:
    """Dead letters, or everything not yet delivered (pending, sending, dead): sent rows are history."""
    where = "status = 'dead'" if dead_only else "status != 'sent'"
    rows = await db.fetchall(f"SELECT * FROM outbox WHERE {where} ORDER BY id LIMIT ?", (limit,))
    return [_entry(r) for r in rows]


async def _audit(conn: Connection, row: Row, action: str, actor: str, note: str) -> int:
    cursor = await conn.execute(
        "INSERT INTO outbox_audit (at, outbox_id, action, actor, from_status, note) VALUES (?, ?, ?, ?, ?, ?)",
        (stamp(datetime.now(UTC)), row["id"], action, actor, row["status"], note),
    )
    return int(cursor.lastrowid or 0)


async def retry(db: Database, ids: list[int] | None, actor: str) -> list[int]:
    """Make dead rows pending and due now (attempt count reset, so back-off starts over); `None`: every dead
    row. Returns the ids retried, in order. One transaction: all of them or none."""
    now = stamp(datetime.now(UTC))
    async with db.transaction() as conn:
        if ids is None:
            rows = list(await conn.execute_fetchall("SELECT * FROM outbox WHERE status = 'dead' ORDER BY id"))
        else:
            rows = []
            for row_id in ids:
                found = list(await conn.execute_fetchall("SELECT * FROM outbox WHERE id = ?", (row_id,)))
                if not found:
                    raise OutboxAdminError("not_found", row_id)
                if found[0]["status"] != "dead":
                    raise OutboxAdminError("not_dead", row_id, found[0]["status"])
                rows.append(found[0])
        for row in rows:
            await _audit(conn, row, "retry", actor, row["last_error"])
            await conn.execute(  # due again from now: the delivery latency does not count the time it lay dead
                "UPDATE outbox SET status = 'pending', attempts = 0, next_at = ?, due_at = ? WHERE id = ?",
                (now, now, row["id"]),
            )
    if rows:
        await notify_leader(db)
    return [r["id"] for r in rows]


async def drop(db: Database, row_id: int, actor: str) -> tuple[str, int]:
    """Delete a pending or dead row; the audit keeps the whole row. Returns (its status, the audit id).

    A row being sent right now ('sending') or already sent cannot be dropped: it is too late to stop it."""
    async with db.transaction() as conn:
        found = list(await conn.execute_fetchall("SELECT * FROM outbox WHERE id = ?", (row_id,)))
        if not found:
            raise OutboxAdminError("not_found", row_id)
        row = found[0]
        if row["status"] not in ("pending", "dead"):
            raise OutboxAdminError("cannot_drop", row_id, row["status"])
        audit_id = await _audit(conn, row, "drop", actor, json.dumps(dict(row), ensure_ascii=False))
        await conn.execute("DELETE FROM outbox WHERE id = ?", (row_id,))
    return row["status"], audit_id
