"""Figure 6: the web console's map viewport query with 100 000 reports in the database.

A map view asks `PointCache.map_view` (bot/console/points.py) for the open reports inside its bounding box (plus
the session's scope and filters): numpy masks over columns kept in memory and refreshed through the audit log's
change cursor. With more than MAX_POINTS reports in view they are grouped into ~64×64 cells and the browser draws
one bubble per cell, so the answer stays small whatever the zoom. The baseline is a plain read of the whole table
(`SELECT id, lat, lon, status FROM reports`, every row fetched) through the same `Database` in the same run: the
cost of touching every report once, which is what a map without aggregation would at least pay per view.

Viewports: the whole country (everything in one view, the worst case), a city, a district and a street, for an
admin (everything) and for a street supervisor (a scope clause over that street's grids).
"""

from __future__ import annotations

import asyncio
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.console.queries import BBox, ConsoleFilter, map_view
from bot.console.scope import Scope
from bot.people.model import Role
from bot.services.container import open_services

CITIES = {  # centres of the sample grids' cities (data/grids.csv): Xuzhou, Suzhou, Yucheng, Sixian, Ma'anshan
    "xz": (34.255, 117.20), "sz": (33.64, 116.98), "yc": (36.93, 116.64), "sx": (33.48, 117.89), "mas": (31.67, 118.51),
}  # fmt: skip
STATUSES = ("forwarded", "accepted", "transferred", "reopened", "resolved", "confirmed", "rejected")
VIEWS = {"country": 6.0, "city": 0.25, "district": 0.06, "street": 0.015}  # degrees of latitude across


@dataclass
class ViewResult:
    view: str
    who: str
    p50_s: float
    p95_s: float
    answered: str  # "points" | "clusters"
    items: int


@dataclass
class ConsoleResult:
    reports: int
    full_read_s: float  # median of the baseline
    views: list[ViewResult]
    cold_load_s: float  # the first read: every report into memory
    sql_country_s: float  # the same country view answered by SQL (queries.map_view), median


def fill(db_path: Path, n: int, now_iso: str, grid_ids: list[str], seed: int = 5) -> None:
    """`n` reports around the sample cities, about a third still open, each in one of the sample grids."""
    import sqlite3

    import numpy as np

    rng = np.random.default_rng(seed)
    centres = np.array(list(CITIES.values()))
    city = rng.integers(0, len(centres), n)
    lats = centres[city, 0] + rng.normal(0, 0.04, n)
    lons = centres[city, 1] + rng.normal(0, 0.05, n)
    status = np.where(rng.random(n) < 0.5, np.array(STATUSES)[rng.integers(0, len(STATUSES), n)], "confirmed")
    grids = np.array(grid_ids)[rng.integers(0, len(grid_ids), n)]
    cats = np.array(["fire_lane", "road", "lights", "other"])[rng.integers(0, 4, n)]
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA synchronous=OFF")
        conn.execute(
            "INSERT OR IGNORE INTO users (id, channel, external_id, display_name, created_at)"
            " VALUES (1, 'telegram', '900000001', 'bench', ?)",
            (now_iso,),
        )
        conn.executemany(
            "INSERT INTO reports (reporter_id, category, lat, lon, description, status, grid_id, assignee_kind,"
            " assignee, created_at, updated_at, accept_due, resolve_due) VALUES (1, ?, ?, ?, '', ?, ?, 'grid', ?,"
            " ?, ?, ?, ?)",
            (
                (str(cats[i]), float(lats[i]), float(lons[i]), str(status[i]), str(grids[i]), str(grids[i]),
                 f"2026-11-{1 + i % 25:02d}T{i % 24:02d}:{i % 60:02d}:00+08:00",
                 f"2026-11-{1 + i % 25:02d}T{i % 24:02d}:{i % 60:02d}:00+08:00",
                 f"2026-11-{1 + (i + 3) % 28:02d}T12:00:00+08:00", f"2026-11-{1 + (i + 5) % 28:02d}T12:00:00+08:00")
                for i in range(n)
            ),
        )  # fmt: skip


async def _timed(fn, repeat: int) -> list[float]:  # type: ignore[no-untyped-def]
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        await fn()
        samples.append(time.perf_counter() - t0)
    return samples


def _p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]


async def run(n_reports: int, n_queries: int, log) -> ConsoleResult:  # type: ignore[no-untyped-def]
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_path=Path(tmp) / "console.sqlite3", http_port=None, demo_people=False)
        services = await open_services(settings)
        try:
            now = services.clock.now()
            grids = [g.id for g in services.grids.grids("grid")]
            t0 = time.perf_counter()
            await asyncio.to_thread(fill, settings.db_path, n_reports, now.isoformat(), grids)
            await services.db.conn.execute("ANALYZE")
            log(f"  console: {n_reports:,} reports generated in {time.perf_counter() - t0:.1f} s")
            db = services.db

            async def full_read() -> None:
                rows = await db.fetchall("SELECT id, lat, lon, status FROM reports")
                assert len(rows) >= n_reports

            full = statistics.median(await _timed(full_read, max(5, n_queries // 10)))
            log(f"  console: full-table read {full * 1e3:.1f} ms (median)")
            street = "xz-hanfeng"
            scopes = {"admin": Scope.of([Role("admin", "")], services.grids),
                      "street supervisor": Scope.of([Role("supervisor", street)], services.grids)}  # fmt: skip
            rng = random.Random(11)
            cache = services.console.points
            t0 = time.perf_counter()
            await cache.refresh()
            cold = time.perf_counter() - t0
            log(f"  console: first map read loads every report into memory in {cold * 1e3:.0f} ms (once per process)")
            views: list[ViewResult] = []
            for view, span in VIEWS.items():
                for who, scope in scopes.items():
                    answers: list[dict] = []

                    async def one(span: float = span, scope: Scope = scope, answers: list = answers) -> None:
                        lat0, lon0 = CITIES["xz"] if span < 1 else (34.0, 117.5)
                        lat = lat0 + rng.uniform(-0.05, 0.05) * min(1.0, span * 4)
                        lon = lon0 + rng.uniform(-0.05, 0.05) * min(1.0, span * 4)
                        box = BBox(lat - span / 2, lon - span * 0.75, lat + span / 2, lon + span * 0.75)
                        answers.append(await cache.map_view(scope, ConsoleFilter(), services.grids, now, box, "gcj02"))

                    samples = await _timed(one, n_queries)
                    last = answers[-1]
                    kind = "clusters" if "clusters" in last else "points"
                    result = ViewResult(view, who, statistics.median(samples), _p95(samples), kind, len(last[kind]))
                    views.append(result)
                    log(f"  console: {view:8} {who:17} p50 {result.p50_s * 1e3:6.1f} ms  p95 {result.p95_s * 1e3:6.1f}"
                        f" ms  ({result.items} {kind}, {last['count']:,} reports)")  # fmt: skip
            sql_samples = []
            for _ in range(max(3, n_queries // 10)):
                t0 = time.perf_counter()
                await map_view(
                    db, scopes["admin"], ConsoleFilter(), services.grids, now, BBox(28, 110, 40, 124), "gcj02"
                )
                sql_samples.append(time.perf_counter() - t0)
            sql = statistics.median(sql_samples)
            log(f"  console: the same country view in SQL (the reference implementation): {sql * 1e3:.0f} ms median")
            return ConsoleResult(n_reports, full, views, cold, sql)
        finally:
            await services.close()
