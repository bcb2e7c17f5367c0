"""The console's reads: the filtered list, the map's viewport, one report's file — always within a `Scope`.

Filters are one object (`ConsoleFilter`) shared by the map, the queue and the exports, so "overdue fire lanes in
蝶梦社区" means the same thing in all three. The SQL is the store's (bot/store/console.py).

The map never ships 100 000 points: when a viewport holds more than `MAX_POINTS` reports, the database groups them
into cells about a sixty-fourth of the view wide and the browser draws one bubble per cell
(docs/PERFORMANCE.md measures it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.console.scope import Scope, descendants
from bot.geo.coords import from_wgs84
from bot.reports.categories import CATEGORY_BY_TOKEN
from bot.reports.export import ReportFile, ReportFilter, ReportRow, report_file
from bot.reports.model import parse_ref
from bot.reports.states import OPEN, Status
from bot.store import console as store
from bot.store import report_rows
from bot.store.console import RUNNING, SORTS, WAITING, change_cursor  # noqa: F401 - PointCache's and the doors' names
from bot.store.db import Database

MAX_POINTS = 1500
PER_PAGE = 25
AGES = (1, 3, 7, 30)  # "older than N days" choices
STATE_CHOICES = ("open", "late", "all", *(s.value for s in Status))


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class ConsoleFilter:
    """state: open | late | all | a status; category; grid (and all under it); age: older than N days; q: a ref."""

    state: str = "open"
    category: str = ""
    grid: str = ""
    age: int = 0
    q: str = ""

    @classmethod
    def parse(cls, params: Mapping[str, str]) -> ConsoleFilter:
        """Unknown values fall back to "no filter" instead of failing: a hand-edited URL still shows a page."""
        state = params.get("state", "open")
        category = params.get("category", "")
        try:
            age = int(params.get("age", "0") or 0)
        except ValueError:
            age = 0
        return cls(
            state=state if state in STATE_CHOICES else "open",
            category=category if category in CATEGORY_BY_TOKEN else "",
            grid=(params.get("grid", "") or "")[:64],
            age=age if age in AGES else 0,
            q=(params.get("q", "") or "")[:32],
        )

    def query(self) -> dict[str, str]:
        """The non-default values, for links that keep the filters (map ↔ queue ↔ export)."""
        out = {"state": self.state, "category": self.category, "grid": self.grid, "age": str(self.age or "")}
        out["q"] = self.q
        return {k: v for k, v in out.items() if v and not (k == "state" and v == "open")}

    def where(self, grids: Any, now: datetime, alias: str = "r") -> tuple[str, list[Any]]:
        report_id = None
        if self.q:
            report_id = parse_ref(self.q) or (int(self.q) if self.q.isdigit() else None)
            report_id = report_id if report_id is not None else -1
        statuses: list[str] | None = None
        if self.state == "open":
            statuses = sorted(s.value for s in OPEN)
        elif self.state not in ("late", "all"):
            statuses = [self.state]
        return store.filter_clause(
            report_id=report_id,
            statuses=statuses,
            late_at=_utc(now) if self.state == "late" else None,
            category=self.category,
            grid_ids=descendants(grids, self.grid) if self.grid else [],
            created_before=_utc(now - timedelta(days=self.age)) if self.age else None,
            alias=alias,
        )


def _clause(scope: Scope, flt: ConsoleFilter, grids: Any, now: datetime) -> tuple[str, list[Any]]:
    return store.visible(scope.where("r"), flt.where(grids, now, "r"))


@dataclass(frozen=True)
class Page:
    rows: list[ReportRow]
    late: set[int]
    dues: dict[int, str | None]  # resolve_due per report (export rows do not carry deadlines)
    total: int
    page: int
    pages: int


async def list_reports(
    db: Database, scope: Scope, flt: ConsoleFilter, grids: Any, now: datetime, *,
    sort: str = "created", desc: bool = True, page: int = 1, per_page: int = PER_PAGE,
) -> Page:  # fmt: skip
    where, params = _clause(scope, flt, grids, now)
    total = await store.count(db, where, params)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    found = await store.page(db, where, params, sort, desc, per_page, (page - 1) * per_page)
    ids = [row[0] for row in found]
    rows = await rows_by_id(db, ids)
    late = await late_ids(db, ids, now)
    dues = {row[0]: row[1] for row in found}
    return Page(rows=rows, late=late, dues=dues, total=int(total), page=page, pages=pages)


async def rows_by_id(db: Database, ids: list[int]) -> list[ReportRow]:
    """Export rows (names and counts joined in) for these ids, in this order."""
    if not ids:
        return []
    by_id = {row.id: row for row in await report_rows.rows_by_id(db, ids, len(ids), 0)}
    return [by_id[i] for i in ids if i in by_id]


async def late_ids(db: Database, ids: list[int], now: datetime) -> set[int]:
    return await store.late_ids(db, ids, _utc(now))


def export_filter(scope: Scope, flt: ConsoleFilter, grids: Any, now: datetime) -> ReportFilter:
    """The export module's filter with the session's scope and the console's filters as one extra clause."""
    where, params = _clause(scope, flt, grids, now)
    return ReportFilter(clause=where, clause_params=tuple(params))


# ---------------------------------------------------------------------------------------------------- map


@dataclass(frozen=True)
class BBox:
    south: float
    west: float
    north: float
    east: float

    @classmethod
    def parse(cls, text: str) -> BBox | None:
        try:
            s, w, n, e = (float(v) for v in text.split(","))
        except ValueError:
            return None
        if not (-90 <= s < n <= 90 and -180 <= w < e <= 180) or not all(map(math.isfinite, (s, w, n, e))):
            return None
        return cls(s, w, n, e)


async def map_view(
    db: Database, scope: Scope, flt: ConsoleFilter, grids: Any, now: datetime, box: BBox, crs: str
) -> dict[str, Any]:
    """{"points": [...]} or {"clusters": [...]} for the viewport (WGS-84 in, `crs` out), plus the count.

    The reference in SQL; the console answers from memory (points.PointCache.map_view, the same answer)."""
    where, params = _clause(scope, flt, grids, now)
    where += " AND r.lat BETWEEN ? AND ? AND r.lon BETWEEN ? AND ?"
    params += [box.south, box.north, box.west, box.east]
    stamp = _utc(now)
    rows = await store.map_points(db, where, params, stamp, MAX_POINTS + 1)
    if len(rows) <= MAX_POINTS:
        points = []
        for row in rows:
            lat, lon = from_wgs84(row["lat"], row["lon"], crs)
            points.append({"id": row["id"], "ref": f"SP-{row['id']:06d}", "lat": round(lat, 6),
                           "lon": round(lon, 6), "status": row["status"], "category": row["category"],
                           "late": bool(row["late"])})  # fmt: skip
        return {"count": len(points), "points": points}
    cell_lat = (box.north - box.south) / 64
    cell_lon = (box.east - box.west) / 64
    clusters = []
    for row in await store.map_clusters(db, where, params, stamp, (box.south, box.west), (cell_lat, cell_lon)):
        lat, lon = from_wgs84(row["lat"], row["lon"], crs)
        clusters.append({"n": row["n"], "lat": round(lat, 6), "lon": round(lon, 6), "late": int(row["late"] or 0)})
    return {"count": sum(c["n"] for c in clusters), "clusters": clusters}


def _convert_rings(geometry: Any, crs: str) -> Any:
    if isinstance(geometry, list) and geometry and isinstance(geometry[0], int | float):
        lat, lon = from_wgs84(geometry[1], geometry[0], crs)
        return [round(lon, 6), round(lat, 6)]
    if isinstance(geometry, list):
        return [_convert_rings(part, crs) for part in geometry]
    return geometry


async def grid_layer(
    db: Database, scope: Scope, now: datetime, crs: str, backlog: dict[str, tuple[int, int]]
) -> list[dict[str, Any]]:
    """The grids in scope as GeoJSON features (level 'grid' only) with their open and late backlog
    (`backlog`: grid id → (open, late), from PointCache.backlog)."""
    features = []
    for row in await store.grid_shapes(db):
        if not scope.grid_visible(row["id"]):
            continue
        try:
            geometry = json.loads(row["geometry"])
        except ValueError:
            continue
        geometry = {**geometry, "coordinates": _convert_rings(geometry.get("coordinates"), crs)}
        n, late = backlog.get(row["id"], (0, 0))
        features.append({"type": "Feature", "geometry": geometry,
                         "properties": {"id": row["id"], "name": row["name"], "open": n, "late": late}})  # fmt: skip
    return features


# ---------------------------------------------------------------------------------------------------- one report


@dataclass(frozen=True)
class ReportDetail:
    file: ReportFile
    merged: list[ReportRow]
    late: bool


async def report_detail(db: Database, report_id: int, now: datetime) -> ReportDetail | None:
    found = await report_file(db, report_id)
    if found is None:
        return None
    merged = await rows_by_id(db, await store.merged_into(db, report_id))
    late = report_id in await late_ids(db, [report_id], now)
    return ReportDetail(file=found, merged=merged, late=late)


def with_state(flt: ConsoleFilter, state: str) -> ConsoleFilter:
    return replace(flt, state=state)
