"""The figures the console and `rider-bot stats` show, over the reports a clause picks (alias ``r``; the console
passes a session's scope, the CLI its --scope). Times compare through julianday() (stamps may carry different
offsets); bounds come as UTC text."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.store.console import RUNNING, WAITING
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


# ------------------------------------------------------------------------------ the daily digest (schedule/stats)

_IN_WINDOW = "julianday({col}) >= julianday(?) AND julianday({col}) < julianday(?)"


def _quoted(statuses: Sequence[str]) -> str:
    """Fixed statuses as SQL literals (ours, never a user's text)."""
    return ",".join(f"'{s}'" for s in statuses)


def area_clause(ids: Sequence[str] | None) -> tuple[str, list[Any]]:
    """Reports whose point lies in one of these grids or that are assigned to one (None: every report)."""
    if ids is None:
        return "1 = 1", []
    marks = ",".join("?" * len(ids))
    return f"(grid_id IN ({marks}) OR assignee IN ({marks}))", [*ids, *ids]


async def _count(db: Database, where: str, params: Sequence[Any], extra: str, extra_params: Sequence[Any]) -> int:
    row = await db.fetchone(f"SELECT COUNT(*) FROM reports r WHERE {where} AND {extra}", [*params, *extra_params])
    return int(row[0])


async def created_between(db: Database, where: str, params: Sequence[Any], start: str, end: str) -> int:
    """Reports created in [start, end), merged duplicates left out."""
    return await _count(
        db, where, params, "status != 'merged' AND " + _IN_WINDOW.format(col="created_at"), [start, end]
    )


async def running(db: Database, where: str, params: Sequence[Any]) -> int:
    """Reports waiting for or in work."""
    return await _count(db, where, params, f"status IN ({_quoted(RUNNING)})", [])


async def overdue(db: Database, where: str, params: Sequence[Any], now: str) -> int:
    """Reports past their time to accept (still waiting) or to resolve (still running)."""
    waiting, running_ = _quoted(WAITING), _quoted(RUNNING)
    return await _count(
        db,
        where,
        params,
        f"((status IN ({waiting}) AND julianday(accept_due) < julianday(?))"
        f" OR (status IN ({running_}) AND julianday(resolve_due) < julianday(?)))",
        [now, now],
    )


async def resolved_between(
    db: Database, where: str, params: Sequence[Any], start: str, end: str, *, on_time: bool = False
) -> int:
    """Reports resolved in [start, end); with `on_time`, only those resolved by their deadline."""
    extra = _IN_WINDOW.format(col="resolved_at")
    if on_time:
        extra += " AND julianday(resolved_at) <= julianday(resolve_due)"
    return await _count(db, where, params, extra, [start, end])


async def satisfaction(db: Database, where: str, params: Sequence[Any], since: str) -> tuple[float | None, int]:
    """(mean rating, how many rated) among reports rated (last changed) since `since`."""
    row = await db.fetchone(
        f"SELECT AVG(rating), COUNT(rating) FROM reports r WHERE {where} AND rating IS NOT NULL"
        " AND julianday(updated_at) >= julianday(?)",
        [*params, since],
    )
    if row and row[1]:
        return float(row[0]), int(row[1])
    return None, 0


async def oldest_running(db: Database, where: str, params: Sequence[Any], limit: int = 5) -> list[int]:
    running_ = _quoted(RUNNING)
    rows = await db.fetchall(
        f"SELECT id FROM reports r WHERE {where} AND status IN ({running_}) ORDER BY julianday(created_at), id"
        f" LIMIT {int(limit)}",
        params,
    )
    return [row[0] for row in rows]
