"""The figures the console and `rider-bot stats` show, over the reports a clause picks (alias ``r``; the console
passes a session's scope, the CLI its --scope). Times compare through julianday() (stamps may carry different
offsets); bounds come as UTC text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.store.db import Database

_ON_TIME = "SUM(CASE WHEN julianday(r.resolved_at) <= julianday(r.resolve_due) THEN 1 ELSE 0 END)"
_RESOLVED_SINCE = "r.resolved_at IS NOT NULL AND julianday(r.resolved_at) >= julianday(?)"


async def on_time_by(
    db: Database, key: str, where: str, params: Sequence[Any], since: str
) -> list[tuple[str | None, int, int]]:
    """(key, resolved on time, resolved) per grid (`key` "grid") or per category ("category") among the reports
    resolved since `since`, by key."""
    column = {"grid": "r.grid_id", "category": "r.category"}[key]
    rows = await db.fetchall(
        f"SELECT {column} AS key, {_ON_TIME} AS ok, COUNT(*) AS n FROM reports r WHERE {where} AND {_RESOLVED_SINCE}"
        f" GROUP BY {column} ORDER BY {column}",
        [*params, since],
    )
    return [(row["key"], row["ok"], row["n"]) for row in rows]


async def open_ages(db: Database, where: str, params: Sequence[Any], now: str, statuses: Sequence[str]) -> list[float]:
    """Days since creation of each report in these statuses."""
    rows = await db.fetchall(
        f"SELECT julianday(?) - julianday(r.created_at) AS days FROM reports r WHERE {where}"
        f" AND r.status IN ({','.join('?' * len(statuses))})",
        [now, *params, *statuses],
    )
    return [row["days"] or 0.0 for row in rows]


async def created_since(db: Database, where: str, params: Sequence[Any], since: str) -> list[str]:
    """Creation stamps of the reports created since `since`, merged duplicates left out."""
    rows = await db.fetchall(
        f"SELECT r.created_at FROM reports r WHERE {where} AND r.status != 'merged'"
        " AND julianday(r.created_at) >= julianday(?)",
        [*params, since],
    )
    return [row[0] for row in rows]


async def minutes_to_accept(db: Database, where: str, params: Sequence[Any], since: str) -> list[float]:
    """Minutes from creation to the first accept, per report created since `since` that was accepted."""
    rows = await db.fetchall(
        "SELECT (julianday(MIN(e.at)) - julianday(r.created_at)) * 1440 AS minutes FROM reports r"
        f" JOIN report_events e ON e.report_id = r.id AND e.action = 'accept' WHERE {where}"
        " AND julianday(r.created_at) >= julianday(?) GROUP BY r.id",
        [*params, since],
    )
    return [row[0] for row in rows if row[0] is not None]


async def minutes_to_resolve(db: Database, where: str, params: Sequence[Any], since: str) -> list[float]:
    """Minutes from creation to resolution, per report resolved since `since`."""
    rows = await db.fetchall(
        f"SELECT (julianday(r.resolved_at) - julianday(r.created_at)) * 1440 FROM reports r"
        f" WHERE {where} AND {_RESOLVED_SINCE}",
        [*params, since],
    )
    return [row[0] for row in rows if row[0] is not None]


async def ratings(db: Database, where: str, params: Sequence[Any], since: str) -> list[tuple[int, int]]:
    """(stars, how many) among the reports rated (last changed) since `since`."""
    rows = await db.fetchall(
        f"SELECT r.rating, COUNT(*) FROM reports r WHERE {where} AND r.rating BETWEEN 1 AND 5"
        " AND julianday(r.updated_at) >= julianday(?) GROUP BY r.rating",
        [*params, since],
    )
    return [(int(stars), int(n)) for stars, n in rows]
