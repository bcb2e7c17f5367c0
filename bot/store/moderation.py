"""Moderation: the append-only moderation log, bans, hidden reports and photos, and the outbox rows a withdrawal
must reach. Writers take the caller's transaction."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from bot.store.db import Connection, Database


@dataclass(frozen=True)
class LogEntry:
    at: str
    actor_id: int | None
    action: str
    user_id: int | None
    report_id: int | None
    detail: str
    reason: str


async def hide_report(conn: Connection, report_id: int, at: str, reason: str) -> bool:
    """False when someone hid it first."""
    cursor = await conn.execute(
        "UPDATE reports SET hidden_at = ?, hidden_reason = ?, version = version + 1 WHERE id = ? AND hidden_at IS NULL",
        (at, reason, report_id),
    )
    return cursor.rowcount == 1


async def before_photo(db: Database, report_id: int, seq: int) -> tuple[str, str | None] | None:
    """(sha256, hidden_at) of a report's seq-th photo from the reporter, None if there is no such photo."""
    row = await db.fetchone(
        "SELECT sha256, hidden_at FROM report_photos WHERE report_id = ? AND phase = 'before' AND seq = ?",
        (report_id, seq),
    )
    return (row["sha256"], row["hidden_at"]) if row else None


async def hide_before_photo(conn: Connection, report_id: int, seq: int, at: str, reason: str) -> None:
    await conn.execute(
        "UPDATE report_photos SET hidden_at = ?, hidden_reason = ? WHERE report_id = ? AND phase = 'before'"
        " AND seq = ?",
        (at, reason, report_id, seq),
    )


async def log(
    conn: Connection,
    *,
    at: str,
    actor_id: int | None,
    action: str,
    user_id: int | None = None,
    report_id: int | None = None,
    detail: str = "",
    reason: str = "",
) -> None:
    await conn.execute(
        "INSERT INTO moderation_log (at, actor_id, action, user_id, report_id, detail, reason)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (at, actor_id, action, user_id, report_id, detail, reason),
    )


async def active_ban(db: Database, user_id: int, now: str) -> tuple[str, str] | None:
    """(until, reason) of the ban in force for this user, the longest one if several."""
    row = await db.fetchone(
        "SELECT until, reason FROM bans WHERE user_id = ? AND lifted_at IS NULL"
        " AND julianday(until) > julianday(?) ORDER BY julianday(until) DESC LIMIT 1",
        (user_id, now),
    )
    return (row["until"], row["reason"]) if row else None


async def reporter_standing(db: Database, user_id: int, now: str, since: str) -> tuple[tuple[str, str] | None, int]:
    """`active_ban` and how many reports this user filed since `since`, in one round trip: what a rider's every
    step towards a report is checked against."""
    row = await db.fetchone(
        "SELECT (SELECT COUNT(*) FROM reports WHERE reporter_id = ? AND created_at >= ?) AS filed, b.until, b.reason"
        " FROM (SELECT 1 AS one) AS base LEFT JOIN (SELECT until, reason FROM bans WHERE user_id = ?"
        " AND lifted_at IS NULL AND julianday(until) > julianday(?) ORDER BY julianday(until) DESC LIMIT 1) AS b"
        " ON TRUE",
        (user_id, since, user_id, now),
    )
    assert row is not None
    return ((row["until"], row["reason"]) if row["until"] is not None else None), int(row["filed"])


async def insert_ban(conn: Connection, user_id: int, at: str, until: str, reason: str, by: int | None) -> None:
    await conn.execute(
        "INSERT INTO bans (user_id, at, until, reason, banned_by) VALUES (?, ?, ?, ?, ?)",
        (user_id, at, until, reason, by),
    )


async def lift_bans(conn: Connection, user_id: int, at: str, by: int | None) -> int:
    cursor = await conn.execute(
        "UPDATE bans SET lifted_at = ?, lifted_by = ? WHERE user_id = ? AND lifted_at IS NULL"
        " AND julianday(until) > julianday(?)",
        (at, by, user_id, at),
    )
    return cursor.rowcount


async def count_since(conn: Connection, user_id: int, action: str, since: str) -> list[int]:
    """Report ids of `action` entries about this user since `since` (e.g. reports rejected as false)."""
    rows = await (
        await conn.execute(
            "SELECT report_id FROM moderation_log WHERE user_id = ? AND action = ?"
            " AND julianday(at) >= julianday(?) ORDER BY id",
            (user_id, action, since),
        )
    ).fetchall()
    return [r[0] for r in rows]


async def sent_for_report(conn: Connection, report_id: int) -> list[dict[str, Any]]:
    """Every forwarded message of this report that reached someone: where it went, what it was, its message id
    (the Telegram sender's result_ref), and its place in the forward (0 is the card)."""
    rows = await (
        await conn.execute(
            "SELECT id, idem_key, user_id, channel, address, payload, result_ref FROM outbox"
            " WHERE idem_key LIKE ? AND idem_key LIKE '%:fwd:%' AND status = 'sent' ORDER BY id",
            (f"r{report_id}:%",),
        )
    ).fetchall()
    found = []
    for row in rows:
        found.append(
            {
                "id": row[0], "index": int(row[1].rsplit(":", 1)[1]), "user_id": row[2], "channel": row[3],
                "address": row[4], "payload": json.loads(row[5]), "message_id": row[6],
            }
        )  # fmt: skip
    return found


async def cancel_pending(conn: Connection, report_id: int, sha256: str | None = None) -> int:
    """Messages about this report not sent yet are never sent (all of them, or those carrying one photo)."""
    sql = "UPDATE outbox SET status = 'dead', last_error = 'withdrawn by a moderator' WHERE status = 'pending'"
    sql += " AND idem_key LIKE ?"
    params: list[Any] = [f"r{report_id}:%"]
    if sha256 is not None:
        sql += " AND payload LIKE ?"
        params.append(f'%"{sha256}"%')
    cursor = await conn.execute(sql, params)
    return cursor.rowcount


async def history(db: Database, user_id: int) -> list[tuple[str, str, dict[str, Any]]]:
    """What happened to and by a person: (at, kind, fields), oldest first, from the moderation log, the report
    audit log (their actions, and what was done to their reports) and the refusals."""
    found: list[tuple[str, str, dict[str, Any]]] = []
    for row in await db.fetchall(
        "SELECT * FROM moderation_log WHERE user_id = ? OR actor_id = ? ORDER BY id", (user_id, user_id)
    ):
        found.append((row["at"], "moderation", dict(row)))
    for row in await db.fetchall(
        "SELECT e.* FROM report_events e WHERE e.actor_id = ?"
        " OR e.report_id IN (SELECT id FROM reports WHERE reporter_id = ?) ORDER BY e.id",
        (user_id, user_id),
    ):
        found.append((row["at"], "report", dict(row)))
    for row in await db.fetchall("SELECT * FROM refusals WHERE user_id = ? ORDER BY id", (user_id,)):
        found.append((row["at"], "refusal", dict(row)))
    found.sort(key=lambda item: item[0])
    return found
