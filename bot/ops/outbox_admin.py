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
from bot.store import outbox as store
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
    return [_entry(r) for r in await store.undelivered(db, dead_only=dead_only, limit=limit)]


async def _audit(conn: Connection, row: Row, action: str, actor: str, note: str) -> int:
    return await store.audit(conn, row, stamp(datetime.now(UTC)), action, actor, note)


async def _row(conn: Connection, row_id: int) -> Row:
    found = await store.row_in(conn, row_id)
    if found is None:
        raise OutboxAdminError("not_found", row_id)
    return found


async def retry(db: Database, ids: list[int] | None, actor: str) -> list[int]:
    """Make dead rows pending and due now (attempt count reset, so back-off starts over); `None`: every dead
    row. Returns the ids retried, in order. One transaction: all of them or none."""
    now = stamp(datetime.now(UTC))
    async with db.transaction() as conn:
        if ids is None:
            rows = await store.dead_in(conn)
        else:
            rows = []
            for row_id in ids:
                found = await _row(conn, row_id)
                if found["status"] != "dead":
                    raise OutboxAdminError("not_dead", row_id, found["status"])
                rows.append(found)
        for row in rows:
            await _audit(conn, row, "retry", actor, row["last_error"])
            await store.revive(conn, row["id"], now)
    if rows:
        await notify_leader(db)
    return [r["id"] for r in rows]


async def drop(db: Database, row_id: int, actor: str) -> tuple[str, int]:
    """Delete a pending or dead row; the audit keeps the whole row. Returns (its status, the audit id).

    A row being sent right now ('sending') or already sent cannot be dropped: it is too late to stop it."""
    async with db.transaction() as conn:
        row = await _row(conn, row_id)
        if row["status"] not in ("pending", "dead"):
            raise OutboxAdminError("cannot_drop", row_id, row["status"])
        audit_id = await _audit(conn, row, "drop", actor, json.dumps(dict(row), ensure_ascii=False))
        await store.delete(conn, row_id)
    return row["status"], audit_id
