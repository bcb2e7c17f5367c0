"""The web console's reads over reports: the clauses for a session's scope and the console's filters, the list
page, the map's viewport (points or clusters) and its grid shapes, merged duplicates, and the change cursor.

Clauses are (text, parameters) pairs over the reports table under an alias; values only ever travel as
parameters, sort keys and statuses come from fixed tables. Times compare through julianday() (stamps may carry
different offsets). The map's SQL is the reference the console's in-memory PointCache is tested against.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from bot.store.db import Database, Row

WAITING = ("forwarded", "transferred", "reopened")
RUNNING = (*WAITING, "accepted")
SORTS = {
    "ref": "r.id",
    "created": "julianday(r.created_at)",
    "updated": "julianday(r.updated_at)",
    "status": "r.status",
    "category": "r.category",
    "due": "julianday(COALESCE(r.resolve_due, r.created_at))",
}
# The PointCache's columns: deadlines and creation as Unix seconds.
_EPOCH = "(julianday({}) - 2440587.5) * 86400.0"
_POINT_COLUMNS = (
    "id, lat, lon, status, category, COALESCE(grid_id, '') AS grid, assignee_kind, assignee,"
    f" {_EPOCH.format('accept_due')} AS accept_due, {_EPOCH.format('resolve_due')} AS resolve_due,"
    f" {_EPOCH.format('created_at')} AS created, hidden_at IS NOT NULL AS hidden"
)


def late_sql(alias: str = "r") -> str:
    """1 when the report is past its time to accept (still waiting) or to resolve (still running); ? = now twice."""
    a = alias
    waiting = ",".join(f"'{s}'" for s in WAITING)
    running = ",".join(f"'{s}'" for s in RUNNING)
    return (
        f"(CASE WHEN ({a}.status IN ({waiting}) AND julianday({a}.accept_due) < julianday(?))"
        f" OR ({a}.status IN ({running}) AND julianday({a}.resolve_due) < julianday(?)) THEN 1 ELSE 0 END)"
    )


def scope_clause(
    *,
    everything: bool,
    areas: Sequence[str],
    area_grids: Sequence[str],
    worker_grids: Sequence[str],
    departments: Sequence[str],
    alias: str = "r",
) -> tuple[str, list[Any]]:
    """The reports a console session may see: in or assigned to its supervised areas' grids, in its street
    queues, assigned to its worker grids or its departments; everything for admins, nothing without a role."""
    if everything:
        return "1 = 1", []
    a = alias
    clauses: list[str] = []
    params: list[Any] = []

    def marks(values: Sequence[str]) -> str:
        params.extend(values)
        return ",".join("?" * len(values))

    if area_grids:
        clauses.append(f"{a}.grid_id IN ({marks(area_grids)})")
        clauses.append(f"({a}.assignee_kind = 'grid' AND {a}.assignee IN ({marks(area_grids)}))")
    if areas:
        clauses.append(f"({a}.assignee_kind = 'street_queue' AND {a}.assignee IN ({marks(areas)}))")
    if worker_grids:
        clauses.append(f"({a}.assignee_kind = 'grid' AND {a}.assignee IN ({marks(worker_grids)}))")
    if departments:
        clauses.append(f"({a}.assignee_kind = 'department' AND {a}.assignee IN ({marks(departments)}))")
    if not clauses:
        return "0 = 1", []
    return "(" + " OR ".join(clauses) + ")", params


def filter_clause(
    *,
    report_id: int | None,
    statuses: Sequence[str] | None,
    late_at: str | None,
    category: str,
    grid_ids: Sequence[str],
    created_before: str | None,
    alias: str = "r",
) -> tuple[str, list[Any]]:
    """The console's filters: one report (`report_id`, -1 matches none), any of `statuses`, late at `late_at`,
    a category, in or assigned to one of `grid_ids`, created before `created_before`. Empty values filter nothing."""
    a = alias
    clauses: list[str] = []
    params: list[Any] = []
    if report_id is not None:
        clauses.append(f"{a}.id = ?")
        params.append(report_id)
    if statuses is not None:
        if len(statuses) == 1:
            clauses.append(f"{a}.status = ?")
        else:
            clauses.append(f"{a}.status IN ({','.join('?' * len(statuses))})")
        params.extend(statuses)
    if late_at is not None:
        clauses.append(f"{late_sql(a)} = 1")
        params.extend([late_at, late_at])
    if category:
        clauses.append(f"{a}.category = ?")
        params.append(category)
    if grid_ids:
        marks = ",".join("?" * len(grid_ids))
        clauses.append(f"({a}.grid_id IN ({marks}) OR ({a}.assignee_kind = 'grid' AND {a}.assignee IN ({marks})))")
        params.extend([*grid_ids, *grid_ids])
    if created_before is not None:
        clauses.append(f"julianday({a}.created_at) < julianday(?)")
        params.append(created_before)
    return (" AND ".join(clauses) or "1 = 1"), params


def visible(scope: tuple[str, list[Any]], flt: tuple[str, list[Any]]) -> tuple[str, list[Any]]:
    """Scope and filters together, hidden reports left out (moderation: out of every list, map and export; admins
    read them with `rider-bot reports show`)."""
    return f"r.hidden_at IS NULL AND {scope[0]} AND {flt[0]}", [*scope[1], *flt[1]]


async def count(db: Database, where: str, params: Sequence[Any]) -> int:
    (total,) = await db.fetchone(f"SELECT COUNT(*) FROM reports r WHERE {where}", params)
    return int(total)


async def page(
    db: Database, where: str, params: Sequence[Any], sort: str, desc: bool, limit: int, offset: int
) -> list[tuple[int, str | None]]:
    """(id, resolve_due) of one page, in the order of `sort` (a key of SORTS; unknown keys sort by creation)."""
    order = SORTS.get(sort, SORTS["created"]) + (" DESC" if desc else "")
    rows = await db.fetchall(
        f"SELECT r.id, r.resolve_due FROM reports r WHERE {where} ORDER BY {order}, r.id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [(row[0], row[1]) for row in rows]


async def late_ids(db: Database, ids: Sequence[int], now: str) -> set[int]:
    if not ids:
        return set()
    rows = await db.fetchall(
        f"SELECT r.id FROM reports r WHERE r.id IN ({','.join('?' * len(ids))}) AND {late_sql()} = 1",
        [*ids, now, now],
    )
    return {row[0] for row in rows}


async def map_points(db: Database, where: str, params: Sequence[Any], now: str, limit: int) -> list[Row]:
    """Up to `limit` reports: id, lat, lon, status, category, late."""
    return await db.fetchall(
        f"SELECT r.id, r.lat, r.lon, r.status, r.category, {late_sql()} AS late FROM reports r WHERE {where} LIMIT ?",
        [now, now, *params, limit],
    )


async def map_clusters(
    db: Database,
    where: str,
    params: Sequence[Any],
    now: str,
    origin: tuple[float, float],
    cell: tuple[float, float],
) -> list[Row]:
    """Reports grouped in cells of `cell` (lat, lon) degrees counted from `origin` (south, west): n, lat and lon
    (the mean), late (how many)."""
    (south, west), (cell_lat, cell_lon) = origin, cell
    cy, cx = _floor("((r.lat - ?) / ?)"), _floor("((r.lon - ?) / ?)")
    return await db.fetchall(
        f"SELECT COUNT(*) AS n, AVG(r.lat) AS lat, AVG(r.lon) AS lon, SUM({late_sql()}) AS late"
        f" FROM reports r WHERE {where} GROUP BY {cy}, {cx}",
        [now, now, *params, *[south, cell_lat] * 3, *[west, cell_lon] * 3],
    )


def _floor(expr: str) -> str:
    """floor() of a non-negative number in both dialects: SQLite's CAST truncates, PostgreSQL's rounds (so one
    step down when the cast went up). `expr`'s placeholders appear three times: pass its parameters thrice."""
    return f"(CAST({expr} AS INTEGER) - CASE WHEN CAST({expr} AS INTEGER) > {expr} THEN 1 ELSE 0 END)"


async def grid_shapes(db: Database) -> list[Row]:
    """id, name, geometry (GeoJSON text) of every grid at the lowest level."""
    return await db.fetchall("SELECT id, name, geometry FROM grids WHERE level = 'grid' ORDER BY id")


async def merged_into(db: Database, report_id: int) -> list[int]:
    rows = await db.fetchall("SELECT id FROM reports WHERE merged_into = ? ORDER BY id", (report_id,))
    return [row[0] for row in rows]


async def change_cursor(db: Database) -> int:
    """Grows whenever any report changes (every change writes an audit event): what live updates watch."""
    row = await db.fetchone("SELECT COALESCE(MAX(id), 0) FROM report_events")
    return int(row[0])


async def changed_since(db: Database, cursor: int) -> list[int]:
    """Reports with audit events after `cursor`."""
    rows = await db.fetchall("SELECT DISTINCT report_id FROM report_events WHERE id > ?", (cursor,))
    return [row[0] for row in rows]


async def point_rows(db: Database, ids: Sequence[int] | None = None) -> list[Row]:
    """The PointCache's columns for these reports (None: every report, hidden ones included)."""
    if ids is None:
        return await db.fetchall(f"SELECT {_POINT_COLUMNS} FROM reports")
    return await db.fetchall(f"SELECT {_POINT_COLUMNS} FROM reports WHERE id IN ({','.join('?' * len(ids))})", ids)
