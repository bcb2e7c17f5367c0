"""The numbers supervisors are judged by: new, open, overdue, resolved, on-time rate, satisfaction.

Scoped to a community or street by the grids under it (a report belongs where its point lies, and also to
whoever it is assigned to), so each supervisor sees their own patch; admins see everything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.console.scope import descendants
from bot.reports import notices as n
from bot.reports.model import Report
from bot.store import numbers
from bot.store import reports as store
from bot.store.console import RUNNING, WAITING  # noqa: F401 - the statuses the digest counts, for its readers
from bot.store.db import Database
from bot.texts import t


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


def _where(grids: Any, scope: str | None) -> tuple[str, list[Any]]:
    return numbers.area_clause(None if scope is None else descendants(grids, scope))


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
    stats = ReportStats()
    stats.new = await numbers.created_between(db, where, params, start, end)
    stats.open = await numbers.running(db, where, params)
    stats.overdue = await numbers.overdue(db, where, params, moment)
    stats.resolved = await numbers.resolved_between(db, where, params, start, end)
    if stats.resolved:
        on_time = await numbers.resolved_between(db, where, params, start, end, on_time=True)
        stats.on_time = on_time / stats.resolved
    mean, rated = await numbers.satisfaction(db, where, params, (now - timedelta(days=30)).isoformat())
    if mean is not None:
        stats.satisfaction, stats.rated = mean, rated
    ids = await numbers.oldest_running(db, where, params)
    stats.oldest = [r for r in [await store.get_report(db, report_id) for report_id in ids] if r is not None]
    return stats


async def day_counts(db: Database, grids: Any, scope: str | None, start: datetime, end: datetime) -> tuple[int, int]:
    """(new, resolved) between two moments: one line of /stats per area and day."""
    where, params = _where(grids, scope)
    bounds = start.isoformat(), end.isoformat()
    new = await numbers.created_between(db, where, params, *bounds)
    resolved = await numbers.resolved_between(db, where, params, *bounds)
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
