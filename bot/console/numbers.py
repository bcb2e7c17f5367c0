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
from bot.store import numbers as store
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
    for key, ok, n in await store.on_time_by(db, "grid", where, params, since):
        grid = grids.get(key) if grids is not None and key else None
        name = grid.name if grid else (key or "")
        numbers.on_time_grid.append({"grid": key or "", "name": name, "on_time": ok, "resolved": n})
    for key, ok, n in await store.on_time_by(db, "category", where, params, since):
        numbers.on_time_category.append({"category": key, "on_time": ok, "resolved": n})
    for days in await store.open_ages(db, where, params, _utc(now), RUNNING):
        numbers.backlog[sum(1 for edge in AGE_EDGES if days >= edge)] += 1
    today = now.astimezone(tz).date()
    days = [today - timedelta(days=i) for i in range(WINDOW_DAYS - 1, -1, -1)]
    first = datetime(days[0].year, days[0].month, days[0].day, tzinfo=tz)
    counts = dict.fromkeys(days, 0)
    for stamp in await store.created_since(db, where, params, _utc(first)):
        day = parse_stamp(stamp).astimezone(tz).date()
        if day in counts:
            counts[day] += 1
    numbers.per_day = [{"date": d.isoformat(), "n": counts[d]} for d in days]
    numbers.median_accept_min = _median(await store.minutes_to_accept(db, where, params, since))
    numbers.median_resolve_min = _median(await store.minutes_to_resolve(db, where, params, since))
    for stars, n in await store.ratings(db, where, params, since):
        numbers.ratings[stars - 1] = n
    total = sum(numbers.ratings)
    if total:
        numbers.rating_avg = round(sum((i + 1) * n for i, n in enumerate(numbers.ratings)) / total, 2)
    return numbers
