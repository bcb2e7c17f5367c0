"""Reports, their photos, followers and audit events. Writers take the caller's transaction."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import fields
from typing import Any

from bot import observe
from bot.geo.index import great_circle_m
from bot.reports.model import Event, Report
from bot.store.db import Connection, Database, Row

_FIELDS = (
    "id, reporter_id, category, lat, lon, description, status, version, grid_id, assignee_kind, assignee,"
    " merged_into, rating, created_at, updated_at, resolved_at, urgent, accept_due, resolve_due, escalation_level,"
    " hidden_at"
)


_EVENT = (
    "INSERT INTO report_events (report_id, at, actor_id, action, from_status, to_status, note)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_LIMIT_COLUMNS = frozenset({"accept_minutes", "resolve_minutes", "urgent"})
_REPORT_FIELDS = tuple(f.name for f in fields(Report))


def _report(row: Any) -> Report:
    return Report(**{name: row[name] for name in _REPORT_FIELDS})


async def category_limits(conn: Connection, category: str) -> tuple[int, int, bool]:
    """(minutes to accept, minutes to resolve, urgent) for a category; 'other' if it has no row of its own."""
    row = await (
        await conn.execute(
            "SELECT accept_minutes, resolve_minutes, urgent FROM category_limits WHERE category IN (?, 'other')"
            " ORDER BY category = 'other' LIMIT 1",
            (category,),
        )
    ).fetchone()
    return (int(row[0]), int(row[1]), bool(row[2])) if row else (480, 10080, False)


async def all_category_limits(db: Database) -> list[Row]:
    """category, accept_minutes, resolve_minutes, urgent for every category with a row of its own."""
    return await db.fetchall("SELECT * FROM category_limits ORDER BY category")


async def set_category_limits(conn: Connection, category: str, changes: dict[str, int]) -> None:
    """Change some of a category's limits (`changes`: accept_minutes, resolve_minutes, urgent); a category without a
    row of its own starts from the defaults (8 hours to accept, a week to resolve, not urgent)."""
    await conn.execute(
        "INSERT INTO category_limits (category, accept_minutes, resolve_minutes, urgent)"
        " VALUES (?, 480, 10080, 0) ON CONFLICT DO NOTHING",
        (category,),
    )
    if not set(changes) <= _LIMIT_COLUMNS:  # column names go into the statement: only ours
        raise ValueError(f"not a limit: {sorted(set(changes) - _LIMIT_COLUMNS)}")
    assignments = ", ".join(f"{k} = ?" for k in changes)
    await conn.execute(f"UPDATE category_limits SET {assignments} WHERE category = ?", (*changes.values(), category))


async def insert_report(
    conn: Connection,
    *,
    reporter_id: int,
    category: str,
    lat: float,
    lon: float,
    description: str,
    now: str,
    version: int = 1,
    **columns: Any,
) -> Report:
    """A new report, in one round trip. `columns`: the report's other columns as they are from the start (its
    status; for a report filed already routed, what routing sets, with `version` 2 counting both changes)."""
    row = {
        "reporter_id": reporter_id, "category": category, "lat": lat, "lon": lon, "description": description,
        "created_at": now, "updated_at": now, "version": version, **columns,
    }  # fmt: skip
    names = ", ".join(row)  # column names go into the statement: ours, from the services
    marks = ", ".join("?" for _ in row)
    sql = f"INSERT INTO reports ({names}) VALUES ({marks}) RETURNING {_FIELDS}"
    rows = await (await conn.execute(sql, tuple(row.values()))).fetchall()
    return _report(rows[0])


async def update_report(conn: Connection, report_id: int, expected_version: int, **fields: Any) -> bool:
    """Optimistic update: only if nobody changed the report since `expected_version` was read."""
    assignments = ", ".join(f"{name} = ?" for name in fields)
    cursor = await conn.execute(
        f"UPDATE reports SET {assignments}, version = version + 1 WHERE id = ? AND version = ?",
        (*fields.values(), report_id, expected_version),
    )
    return cursor.rowcount == 1


async def update_report_returning(
    conn: Connection, report_id: int, expected_version: int, **fields: Any
) -> Report | None:
    """`update_report` that gives back the report as changed (None if someone changed it meanwhile): the change and
    the read are one round trip."""
    assignments = ", ".join(f"{name} = ?" for name in fields)
    rows = await (
        await conn.execute(
            f"UPDATE reports SET {assignments}, version = version + 1 WHERE id = ? AND version = ? RETURNING {_FIELDS}",
            (*fields.values(), report_id, expected_version),
        )
    ).fetchall()
    return _report(rows[0]) if rows else None


async def add_photo(
    conn: Connection, report_id: int, phase: str, sha256: str, file_ref: str, user_id: int | None
) -> None:
    """The next photo of this report and phase, numbered in the same statement (one round trip)."""
    await conn.execute(
        "INSERT INTO report_photos (report_id, seq, phase, sha256, file_ref, added_by)"
        " SELECT ?, COALESCE(MAX(seq), 0) + 1, ?, ?, ?, ? FROM report_photos WHERE report_id = ? AND phase = ?",
        (report_id, phase, sha256, file_ref, user_id, report_id, phase),
    )


async def add_follower(conn: Connection, report_id: int, user_id: int) -> None:
    await conn.execute(
        "INSERT INTO report_followers (report_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING",
        (report_id, user_id),
    )


async def log_event(
    conn: Connection,
    report_id: int,
    *,
    at: str,
    actor_id: int | None,
    action: str,
    from_status: str | None,
    to_status: str | None,
    note: str = "",
) -> None:
    await conn.execute(
        _EVENT,
        (report_id, at, actor_id, action, from_status, to_status, note),
    )
    observe.note_report(report_id)  # the update's log line names the report it changed


async def log_events(conn: Connection, report_id: int, events: list[Event]) -> None:
    """Several audit events of one report, in this order, in one batch (one round trip)."""
    await conn.executemany(
        _EVENT,
        [(report_id, e.at, e.actor_id, e.action, e.from_status, e.to_status, e.note) for e in events],
    )
    observe.note_report(report_id)


async def log_refusal(
    conn: Connection, *, at: str, user_id: int | None, report_id: int | None, action: str, reason: str
) -> None:
    await conn.execute(
        "INSERT INTO refusals (at, user_id, report_id, action, reason) VALUES (?, ?, ?, ?, ?)",
        (at, user_id, report_id, action[:64], reason),
    )


async def get_report_in(conn: Connection, report_id: int) -> Report:
    """Inside a transaction: the report as this transaction sees it."""
    row = await (await conn.execute(f"SELECT {_FIELDS} FROM reports WHERE id = ?", (report_id,))).fetchone()
    return _report(row)


async def category_in(conn: Connection, report_id: int) -> str:
    """Inside a transaction: the report's category as this transaction sees it."""
    row = await (await conn.execute("SELECT category FROM reports WHERE id = ?", (report_id,))).fetchone()
    return str(row[0])


async def set_escalation_level(conn: Connection, report_id: int, level: int, *, changed_at: str | None = None) -> None:
    """The escalation step a report reached. `changed_at`: the report itself changes (a new version), for an
    escalation that moves nobody; without it the step only records how far the transfer that came with it went."""
    if changed_at is None:
        await conn.execute("UPDATE reports SET escalation_level = ? WHERE id = ?", (level, report_id))
        return
    await conn.execute(
        "UPDATE reports SET escalation_level = ?, version = version + 1, updated_at = ? WHERE id = ?",
        (level, changed_at, report_id),
    )


async def mark_merged(conn: Connection, report_id: int, status: str, into: int, now: str) -> None:
    """A just-filed report folded into an earlier one (no version check: nobody else has seen it yet)."""
    await conn.execute(
        "UPDATE reports SET status = ?, merged_into = ?, version = version + 1, updated_at = ? WHERE id = ?",
        (status, into, now, report_id),
    )


async def get_report(db: Database, report_id: int) -> Report | None:
    row = await db.fetchone(f"SELECT {_FIELDS} FROM reports WHERE id = ?", (report_id,))
    return _report(row) if row else None


async def photos(db: Database, report_id: int, phase: str = "before") -> list[tuple[str, str]]:
    rows = await db.fetchall(
        "SELECT sha256, file_ref FROM report_photos WHERE report_id = ? AND phase = ? AND hidden_at IS NULL"
        " ORDER BY seq",
        (report_id, phase),
    )
    return [(r["sha256"], r["file_ref"]) for r in rows]


async def has_photo(db: Database, report_id: int, sha256: str) -> bool:
    """Whether this (not hidden) photo belongs to the report, in either phase."""
    row = await db.fetchone(
        "SELECT 1 FROM report_photos WHERE report_id = ? AND sha256 = ? AND hidden_at IS NULL", (report_id, sha256)
    )
    return row is not None


async def followers_in(conn: Connection, report_id: int) -> list[int]:
    """Inside a transaction: who follows the report (reporter, merged duplicates), as this transaction sees it."""
    rows = await (
        await conn.execute("SELECT user_id FROM report_followers WHERE report_id = ? ORDER BY user_id", (report_id,))
    ).fetchall()
    return [r[0] for r in rows]


async def followers(db: Database, report_id: int) -> list[int]:
    rows = await db.fetchall("SELECT user_id FROM report_followers WHERE report_id = ? ORDER BY user_id", (report_id,))
    return [r[0] for r in rows]


async def events(db: Database, report_id: int) -> list[Event]:
    rows = await db.fetchall(
        "SELECT at, actor_id, action, from_status, to_status, note FROM report_events WHERE report_id = ? ORDER BY id",
        (report_id,),
    )
    return [Event(*tuple(r)) for r in rows]


async def reports_followed_by(db: Database, user_id: int, limit: int = 20) -> list[Report]:
    rows = await db.fetchall(
        f"SELECT {_FIELDS} FROM reports WHERE id IN (SELECT report_id FROM report_followers WHERE user_id = ?)"
        " AND hidden_at IS NULL ORDER BY id DESC LIMIT ?",
        (user_id, limit),
    )
    return [_report(r) for r in rows]


async def open_reports(db: Database, statuses: frozenset[str], limit: int = 200) -> list[Report]:
    marks = ",".join("?" * len(statuses))
    rows = await db.fetchall(
        f"SELECT {_FIELDS} FROM reports WHERE status IN ({marks}) AND hidden_at IS NULL"
        " ORDER BY created_at, id LIMIT ?",
        (*sorted(statuses), limit),
    )
    return [_report(r) for r in rows]


async def similar_open(
    db: Database, category: str, lat: float, lon: float, radius_m: float, since: str, statuses: frozenset[str]
) -> list[tuple[Report, float]]:
    """Open reports of the same category within radius_m, nearest first (a bounding box first, then exact)."""
    dlat = radius_m / 111_000
    dlon = radius_m / (111_000 * max(math.cos(math.radians(lat)), 0.01))
    marks = ",".join("?" * len(statuses))
    rows = await db.fetchall(
        f"SELECT {_FIELDS} FROM reports WHERE category = ? AND status IN ({marks}) AND created_at >= ?"
        " AND hidden_at IS NULL"
        " AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?",
        (category, *sorted(statuses), since, lat - dlat, lat + dlat, lon - dlon, lon + dlon),
    )
    found = [(_report(r), great_circle_m(lat, lon, r["lat"], r["lon"])) for r in rows]
    return sorted([(r, d) for r, d in found if d <= radius_m], key=lambda x: (x[1], x[0].id))


async def points_near(
    db: Database, statuses: Iterable[str], categories: Iterable[str], lat: float, lon: float, radius_m: float
) -> list[tuple[int, float, float]]:
    """(id, lat, lon) of visible reports in these statuses and categories inside the bounding box around a point:
    the caller measures the exact distance."""
    dlat = radius_m / 111_000
    dlon = radius_m / (111_000 * max(math.cos(math.radians(lat)), 0.01))
    statuses, categories = sorted(statuses), sorted(categories)
    rows = await db.fetchall(
        f"SELECT id, lat, lon FROM reports WHERE status IN ({','.join('?' * len(statuses))})"
        f" AND category IN ({','.join('?' * len(categories))}) AND hidden_at IS NULL"
        " AND lat BETWEEN ? AND ? AND lon BETWEEN ? AND ?",
        (*statuses, *categories, lat - dlat, lat + dlat, lon - dlon, lon + dlon),
    )
    return [(r["id"], r["lat"], r["lon"]) for r in rows]


async def supporters(db: Database, report_id: int) -> int:
    """Followers (reporter, merged duplicates) plus 👍 confirmations."""
    row = await db.fetchone(
        "SELECT (SELECT COUNT(*) FROM report_followers WHERE report_id = ?)"
        " + (SELECT COUNT(*) FROM report_confirmations WHERE report_id = ?)",
        (report_id, report_id),
    )
    return int(row[0])


async def add_confirmation(conn: Connection, report_id: int, user_id: int, at: str) -> bool:
    """A 👍; False when this person had already confirmed it."""
    cursor = await conn.execute(
        "INSERT INTO report_confirmations (report_id, user_id, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
        (report_id, user_id, at),
    )
    return bool(cursor.rowcount)


async def status_counts(db: Database) -> dict[str, int]:
    return {r[0]: r[1] for r in await db.fetchall("SELECT status, COUNT(*) FROM reports GROUP BY status")}


async def overdue_counts(db: Database, now: str) -> tuple[int, int]:
    """(past their time to accept and still waiting, past their time to resolve and still running)."""
    row = await db.fetchone(
        "SELECT SUM(CASE WHEN status IN ('forwarded', 'transferred', 'reopened')"
        "                 AND julianday(accept_due) < julianday(?) THEN 1 ELSE 0 END),"
        "       SUM(CASE WHEN julianday(resolve_due) < julianday(?) THEN 1 ELSE 0 END)"
        " FROM reports WHERE status IN ('forwarded', 'transferred', 'reopened', 'accepted')",
        (now, now),
    )
    return ((row[0] or 0), (row[1] or 0)) if row else (0, 0)


async def count_reports_since(db: Database, reporter_id: int, since: str) -> int:
    row = await db.fetchone(
        "SELECT COUNT(*) FROM reports WHERE reporter_id = ? AND created_at >= ?", (reporter_id, since)
    )
    return int(row[0])


async def award_points(conn: Connection, user_id: int, delta: int, reason: str, report_id: int, at: str) -> bool:
    cursor = await conn.execute(
        "INSERT INTO points (user_id, delta, reason, report_id, at) VALUES (?, ?, ?, ?, ?)"
        " ON CONFLICT(user_id, reason, report_id) DO NOTHING",
        (user_id, delta, reason, report_id, at),
    )
    return cursor.rowcount == 1
