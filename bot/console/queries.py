"""The console's reads: the filtered list, the map's viewport, one report's file — always within a `Scope`.

Filters are one object (`ConsoleFilter`) shared by the map, the queue and the exports, so "overdue fire lanes in
蝶梦社区" means the same thing in all three. Values reach SQL only as parameters; sort keys and statuses come
from fixed tables. Times compare through julianday() (stamps may carry different offsets; see export.py).

The map never ships 100 000 points: when a viewport holds more than `MAX_POINTS` reports, SQLite groups them
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
from bot.reports.export import ReportFile, ReportFilter, ReportRow, iter_reports, report_file
from bot.reports.model import parse_ref
from bot.reports.states import OPEN, Status
from bot.store.db import Database

WAITING = ("forwarded", "transferred", "reopened")
RUNNING = (*WAITING, "accepted")
MAX_POINTS = 1500
PER_PAGE = 25
AGES = (1, 3, 7, 30)  # "older than N days" choices
SORTS = {
    "ref": "r.id",
    "created": "julianday(r.created_at)",
    "updated": "julianday(r.updated_at)",
    "status": "r.status",
    "category": "r.category",
    "due": "julianday(COALESCE(r.resolve_due, r.created_at))",
}
STATE_CHOICES = ("open", "late", "all", *(s.value for s in Status))


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds")


def late_sql(alias: str = "r") -> str:
    """1 when the report is past its time to accept (still waiting) or to resolve (still running); ? = now twice."""
    a = alias
    waiting = ",".join(f"'{s}'" for s in WAITING)
    running = ",".join(f"'{s}'" for s in RUNNING)
    return (
        f"(CASE WHEN ({a}.status IN ({waiting}) AND julianday({a}.accept_due) < julianday(?))"
        f" OR ({a}.status IN ({running}) AND julianday({a}.resolve_due) < julianday(?)) THEN 1 ELSE 0 END)"
    )


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
        a = alias
        clauses: list[str] = []
        params: list[Any] = []
        if self.q:
            report_id = parse_ref(self.q) or (int(self.q) if self.q.isdigit() else None)
            clauses.append(f"{a}.id = ?")
            params.append(report_id if report_id is not None else -1)
        if self.state == "open":
            clauses.append(f"{a}.status IN ({','.join('?' * len(OPEN))})")
            params.extend(sorted(s.value for s in OPEN))
        elif self.state == "late":
            clauses.append(f"{late_sql(a)} = 1")
            params.extend([_utc(now), _utc(now)])
        elif self.state != "all":
            clauses.append(f"{a}.status = ?")
            params.append(self.state)
        if self.category:
            clauses.append(f"{a}.category = ?")
            params.append(self.category)
        if self.grid:
            ids = descendants(grids, self.grid)
            marks = ",".join("?" * len(ids))
            clauses.append(f"({a}.grid_id IN ({marks}) OR ({a}.assignee_kind = 'grid' AND {a}.assignee IN ({marks})))")
            params.extend([*ids, *ids])
        if self.age:
            clauses.append(f"julianday({a}.created_at) < julianday(?)")
            params.append(_utc(now - timedelta(days=self.age)))
        return (" AND ".join(clauses) or "1 = 1"), params


def _clause(scope: Scope, flt: ConsoleFilter, grids: Any, now: datetime) -> tuple[str, list[Any]]:
    scope_sql, scope_params = scope.where("r")
    filter_sql, filter_params = flt.where(grids, now, "r")
    # Hidden by a moderator: out of every list, map and export (admins read them with `rider-bot reports show`).
    return f"r.hidden_at IS NULL AND {scope_sql} AND {filter_sql}", [*scope_params, *filter_params]


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
    (total,) = await db.fetchone(f"SELECT COUNT(*) FROM reports r WHERE {where}", params)
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    order = SORTS.get(sort, SORTS["created"]) + (" DESC" if desc else "")
    found = await db.fetchall(
        f"SELECT r.id, r.resolve_due FROM reports r WHERE {where} ORDER BY {order}, r.id LIMIT ? OFFSET ?",
        [*params, per_page, (page - 1) * per_page],
    )
    ids = [row[0] for row in found]
    rows = await rows_by_id(db, ids)
    late = await late_ids(db, ids, now)
    dues = {row[0]: row[1] for row in found}
    return Page(rows=rows, late=late, dues=dues, total=int(total), page=page, pages=pages)


async def rows_by_id(db: Database, ids: list[int]) -> list[ReportRow]:
    """Export rows (names and counts joined in) for these ids, in this order."""
    if not ids:
        return []
    by_id: dict[int, ReportRow] = {}
    flt = ReportFilter(clause=f"r.id IN ({','.join('?' * len(ids))})", clause_params=tuple(ids))
    async for row in iter_reports(db, flt):
        by_id[row.id] = row
    return [by_id[i] for i in ids if i in by_id]


async def late_ids(db: Database, ids: list[int], now: datetime) -> set[int]:
    if not ids:
        return set()
    rows = await db.fetchall(
        f"SELECT r.id FROM reports r WHERE r.id IN ({','.join('?' * len(ids))}) AND {late_sql()} = 1",
        [*ids, _utc(now), _utc(now)],
    )
    return {row[0] for row in rows}


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
    rows = await db.fetchall(
        f"SELECT r.id, r.lat, r.lon, r.status, r.category, {late_sql()} AS late FROM reports r WHERE {where} LIMIT ?",
        [stamp, stamp, *params, MAX_POINTS + 1],
    )
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
    cy, cx = _floor("((r.lat - ?) / ?)"), _floor("((r.lon - ?) / ?)")
    for row in await db.fetchall(
        f"SELECT COUNT(*) AS n, AVG(r.lat) AS lat, AVG(r.lon) AS lon, SUM({late_sql()}) AS late"
        f" FROM reports r WHERE {where} GROUP BY {cy}, {cx}",
        [stamp, stamp, *params, *[box.south, cell_lat] * 3, *[box.west, cell_lon] * 3],
    ):
        lat, lon = from_wgs84(row["lat"], row["lon"], crs)
        clusters.append({"n": row["n"], "lat": round(lat, 6), "lon": round(lon, 6), "late": int(row["late"] or 0)})
    return {"count": sum(c["n"] for c in clusters), "clusters": clusters}


def _floor(expr: str) -> str:
    """floor() of a non-negative number in both dialects: SQLite's CAST truncates, PostgreSQL's rounds (so one
    step down when the cast went up). `expr`'s placeholders appear three times: pass its parameters thrice."""
    return f"(CAST({expr} AS INTEGER) - CASE WHEN CAST({expr} AS INTEGER) > {expr} THEN 1 ELSE 0 END)"


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
    for row in await db.fetchall("SELECT id, name, geometry FROM grids WHERE level = 'grid' ORDER BY id"):
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
    merged_ids = [row[0] for row in await db.fetchall("SELECT id FROM reports WHERE merged_into = ? ORDER BY id",
                                                      (report_id,))]  # fmt: skip
    merged = await rows_by_id(db, merged_ids)
    late = report_id in await late_ids(db, [report_id], now)
    return ReportDetail(file=found, merged=merged, late=late)


async def change_cursor(db: Database) -> int:
    """Grows whenever any report changes (every change writes an audit event): what live updates watch."""
    row = await db.fetchone("SELECT COALESCE(MAX(id), 0) FROM report_events")
    return int(row[0])


def with_state(flt: ConsoleFilter, state: str) -> ConsoleFilter:
    return replace(flt, state=state)
