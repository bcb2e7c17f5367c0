"""The numbers supervisors are judged by: new, open, overdue, resolved, on-time rate, satisfaction.

Scoped to a community or street by the grids under it (a report belongs where its point lies, and also to
whoever it is assigned to), so each supervisor sees their own patch; admins see everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.reports import notices as n
from bot.reports.model import Report
from bot.store import reports as store
from bot.store.db import Database
from bot.texts import t

WAITING = ("forwarded", "transferred", "reopened")
RUNNING = (*WAITING, "accepted")


@dataclass
class ReportStats:
    new: int = 0
    open: int = 0
    overdue: int = 0
    resolved: int = 0
    on_time: float | None = None
    satisfaction: float | None = None
    rated: int = 0
    oldest: list[Report] = field(default_factory=list)


def _descendants(grids: Any, scope: str) -> list[str]:
    found, todo = [scope], [scope]
    while todo and grids is not None:
        for child in grids.children(todo.pop()):
            found.append(child.id)
            todo.append(child.id)
    return found


def _where(grids: Any, scope: str | None) -> tuple[str, list[Any]]:
    if scope is None:
        return "1 = 1", []
    ids = _descendants(grids, scope)
    marks = ",".join("?" * len(ids))
    return f"(grid_id IN ({marks}) OR assignee IN ({marks}))", [*ids, *ids]


async def _count(db: Database, where: str, params: list[Any], extra: str, extra_params: list[Any]) -> int:
    row = await db.fetchone(f"SELECT COUNT(*) FROM reports r WHERE {where} AND {extra}", [*params, *extra_params])
    return int(row[0])


async def collect_stats(
    db: Database, grids: Any, scope: str | None, now: datetime, *, where: tuple[str, list[Any]] | None = None
) -> ReportStats:
    """`where`: a clause over ``reports r`` instead of `scope` (the web console passes a session's scope)."""
    clause, params = where if where is not None else _where(grids, scope)
    return await _collect(db, clause, list(params), now)


def where_for(grids: Any, scope: str | None) -> tuple[str, list[Any]]:
    """The clause `collect_stats` uses for a community/street id (None: everything)."""
    return _where(grids, scope)


async def _collect(db: Database, where: str, params: list[Any], now: datetime) -> ReportStats:
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    start, end = (today - timedelta(days=1)).isoformat(), today.isoformat()
    moment = now.isoformat()
    running = ",".join(f"'{s}'" for s in RUNNING)
    waiting = ",".join(f"'{s}'" for s in WAITING)
    stats = ReportStats()
    stats.new = await _count(
        db,
        where,
        params,
        "status != 'merged' AND julianday(created_at) >= julianday(?) AND julianday(created_at) < julianday(?)",
        [start, end],
    )
    stats.open = await _count(db, where, params, f"status IN ({running})", [])
    stats.overdue = await _count(
        db,
        where,
        params,
        f"((status IN ({waiting}) AND julianday(accept_due) < julianday(?))"
        f" OR (status IN ({running}) AND julianday(resolve_due) < julianday(?)))",
        [moment, moment],
    )
    resolved_window = "julianday(resolved_at) >= julianday(?) AND julianday(resolved_at) < julianday(?)"
    stats.resolved = await _count(db, where, params, resolved_window, [start, end])
    if stats.resolved:
        on_time = await _count(
            db, where, params, resolved_window + " AND julianday(resolved_at) <= julianday(resolve_due)", [start, end]
        )
        stats.on_time = on_time / stats.resolved
    row = await db.fetchone(
        f"SELECT AVG(rating), COUNT(rating) FROM reports r WHERE {where} AND rating IS NOT NULL"
        " AND julianday(updated_at) >= julianday(?)",
        [*params, (now - timedelta(days=30)).isoformat()],
    )
    if row and row[1]:
        stats.satisfaction, stats.rated = float(row[0]), int(row[1])
    rows = await db.fetchall(
        f"SELECT id FROM reports r WHERE {where} AND status IN ({running}) ORDER BY julianday(created_at), id LIMIT 5",
        params,
    )
    stats.oldest = [r for r in [await store.get_report(db, row[0]) for row in rows] if r is not None]
    return stats


async def day_counts(db: Database, grids: Any, scope: str | None, start: datetime, end: datetime) -> tuple[int, int]:
    """(new, resolved) between two moments: one line of /stats per area and day."""
    where, params = _where(grids, scope)
    window = "julianday({col}) >= julianday(?) AND julianday({col}) < julianday(?)"
    bounds = [start.isoformat(), end.isoformat()]
    new = await _count(db, where, params, "status != 'merged' AND " + window.format(col="created_at"), bounds)
    resolved = await _count(db, where, params, window.format(col="resolved_at"), bounds)
    return new, resolved


def _percent(value: float | None, lang: str) -> str:
    return f"{value:.0%}" if value is not None else t(lang, "digest.none")


def _stars(stats: ReportStats, lang: str) -> str:
    return f"{stats.satisfaction:.1f}★ ({stats.rated})" if stats.satisfaction is not None else t(lang, "digest.none")


def summary_values(lang: str, stats: ReportStats) -> dict[str, Any]:
    return {
        "new": stats.new,
        "open": stats.open,
        "overdue": stats.overdue,
        "resolved": stats.resolved,
        "on_time": _percent(stats.on_time, lang),
        "satisfaction": _stars(stats, lang),
    }


def digest_text(lang: str, stats: ReportStats, scope: str, now: datetime) -> str:
    yesterday = (now - timedelta(days=1)).date().isoformat()
    lines = [
        t(lang, "digest.title", date=yesterday, scope=scope),
        t(lang, "digest.body", **summary_values(lang, stats)),
    ]
    if stats.oldest:
        lines.append(t(lang, "digest.oldest"))
        for report in stats.oldest:
            lines.append(
                t(
                    lang,
                    "digest.line",
                    ref=report.ref,
                    category=n.category_text(lang, report.category),
                    status=n.status_text(lang, report.status),
                    age=n.age_text(lang, report.created_at, now),
                )
            )
    return "\n".join(lines)
