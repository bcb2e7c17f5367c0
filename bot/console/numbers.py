"""The console's figures, which `rider-bot stats` prints too: one function, so the two can never disagree.

Over the last 30 days: on-time rate per grid and per category (resolved by the resolve deadline), reports per
local day, median minutes to accept (first accept event) and to resolve, the spread of ratings; plus the open
backlog by age now, and yesterday's digest figures (bot/schedule/stats.py). `where` is a clause over the
reports table (alias ``r``): the console passes a session's scope, the CLI its --scope.
"""

from __future__ import annotations

import statistics
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta, tzinfo
from typing import Any

from bot.reports.export import parse_stamp
from bot.schedule.stats import RUNNING, collect_stats
from bot.store.db import Database

WINDOW_DAYS = 30
AGE_EDGES = (1, 3, 7, 30)  # days: buckets <1, 1–3, 3–7, 7–30, ≥30


@dataclass
class Numbers:
    digest: dict[str, Any] = field(default_factory=dict)
    on_time_grid: list[dict[str, Any]] = field(default_factory=list)  # {grid, name, on_time, resolved}
    on_time_category: list[dict[str, Any]] = field(default_factory=list)  # {category, on_time, resolved}
    backlog: list[int] = field(default_factory=lambda: [0] * (len(AGE_EDGES) + 1))
    per_day: list[dict[str, Any]] = field(default_factory=list)  # {date, n}, oldest first, 30 local days
    median_accept_min: float | None = None
    median_resolve_min: float | None = None
    ratings: list[int] = field(default_factory=lambda: [0] * 5)  # how many 1★ … 5★
    rating_avg: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def _median(values: list[float]) -> float | None:
    return round(statistics.median(values), 1) if values else None


async def collect_numbers(
    db: Database, grids: Any, where: str, params: list[Any], now: datetime, tz: tzinfo
) -> Numbers:
    numbers = Numbers()
    since = _utc(now - timedelta(days=WINDOW_DAYS))
    digest = await collect_stats(db, grids, None, now, where=(where, list(params)))
    numbers.digest = {
        "new": digest.new, "open": digest.open, "overdue": digest.overdue, "resolved": digest.resolved,
        "on_time": None if digest.on_time is None else round(digest.on_time, 4),
        "satisfaction": None if digest.satisfaction is None else round(digest.satisfaction, 2), "rated": digest.rated,
    }  # fmt: skip
    resolved_recent = f"{where} AND r.resolved_at IS NOT NULL AND julianday(r.resolved_at) >= julianday(?)"
    on_time = "SUM(CASE WHEN julianday(r.resolved_at) <= julianday(r.resolve_due) THEN 1 ELSE 0 END)"
    for row in await db.fetchall(
        f"SELECT r.grid_id AS key, {on_time} AS ok, COUNT(*) AS n FROM reports r WHERE {resolved_recent}"
        " GROUP BY r.grid_id ORDER BY r.grid_id",
        [*params, since],
    ):
        grid = grids.get(row["key"]) if grids is not None and row["key"] else None
        name = grid.name if grid else (row["key"] or "")
        numbers.on_time_grid.append(
            {"grid": row["key"] or "", "name": name, "on_time": row["ok"], "resolved": row["n"]}
        )
    for row in await db.fetchall(
        f"SELECT r.category AS key, {on_time} AS ok, COUNT(*) AS n FROM reports r WHERE {resolved_recent}"
        " GROUP BY r.category ORDER BY r.category",
        [*params, since],
    ):
        numbers.on_time_category.append({"category": row["key"], "on_time": row["ok"], "resolved": row["n"]})
    marks = ",".join("?" * len(RUNNING))
    for row in await db.fetchall(
        f"SELECT julianday(?) - julianday(r.created_at) AS days FROM reports r WHERE {where} AND r.status IN ({marks})",
        [_utc(now), *params, *RUNNING],
    ):
        days = row["days"] or 0.0
        numbers.backlog[sum(1 for edge in AGE_EDGES if days >= edge)] += 1
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=i) for i in range(WINDOW_DAYS - 1, -1, -1)]
    first = datetime(days[0].year, days[0].month, days[0].day, tzinfo=tz)
    counts = dict.fromkeys(days, 0)
    for row in await db.fetchall(
        f"SELECT r.created_at FROM reports r WHERE {where} AND r.status != 'merged'"
        " AND julianday(r.created_at) >= julianday(?)",
        [*params, _utc(first)],
    ):
        day = parse_stamp(row[0]).astimezone(tz).date()
        if day in counts:
            counts[day] += 1
    numbers.per_day = [{"date": d.isoformat(), "n": counts[d]} for d in days]
    accept = await db.fetchall(
        "SELECT (julianday(MIN(e.at)) - julianday(r.created_at)) * 1440 AS minutes FROM reports r"
        f" JOIN report_events e ON e.report_id = r.id AND e.action = 'accept' WHERE {where}"
        " AND julianday(r.created_at) >= julianday(?) GROUP BY r.id",
        [*params, since],
    )
    numbers.median_accept_min = _median([row[0] for row in accept if row[0] is not None])
    resolve = await db.fetchall(
        f"SELECT (julianday(r.resolved_at) - julianday(r.created_at)) * 1440 FROM reports r WHERE {resolved_recent}",
        [*params, since],
    )
    numbers.median_resolve_min = _median([row[0] for row in resolve if row[0] is not None])
    rated = await db.fetchall(
        f"SELECT r.rating, COUNT(*) FROM reports r WHERE {where} AND r.rating BETWEEN 1 AND 5"
        " AND julianday(r.updated_at) >= julianday(?) GROUP BY r.rating",
        [*params, since],
    )
    for stars, n in rated:
        numbers.ratings[int(stars) - 1] = int(n)
    total = sum(numbers.ratings)
    if total:
        numbers.rating_avg = round(sum((i + 1) * n for i, n in enumerate(numbers.ratings)) / total, 2)
    return numbers
