"""The map's reports in memory, column by column, so a viewport over 100 000 reports costs milliseconds.

SQLite answers a viewport by visiting every report in the box and computing its lateness (julianday() on two
deadlines per row): with 100 000 reports that is slower than the map may be. The console therefore keeps the few
columns the map needs as numpy arrays (position, state, category, grid, assignee, deadlines as Unix seconds) and
answers the bounding box, the session's scope and the filters with vector masks.

Freshness: every change to a report writes an audit event (report_events is append-only and complete: routing,
actions, escalations, merges, moderation), so the highest event id is a change cursor. Each read compares it
(one indexed MAX) and reloads only the reports with newer events. The first read loads everything once.

The SQL behind queries.py (bot/store/console.py) stays the reference: tests/test_console_scope.py checks that
both give the same answer.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from bot.console.queries import MAX_POINTS, RUNNING, WAITING, BBox, ConsoleFilter, change_cursor
from bot.console.scope import Scope, descendants
from bot.geo.coords import from_wgs84
from bot.reports.model import parse_ref
from bot.reports.states import OPEN, Status
from bot.store import console as console_store
from bot.store.db import Database

STATUSES = [s.value for s in Status]
KINDS = ["", "grid", "department", "street_queue", "unrouted"]
_CHUNK = 500
_REBUILD = 2000  # more changed reports than this since the last read: rebuild in a thread


class PointCache:
    """Columns of every report (hidden ones flagged), kept current through the audit log's change cursor."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cursor = -1
        self._lock = asyncio.Lock()
        self._row: dict[int, int] = {}  # report id → row in the arrays
        self._codes: dict[str, int] = {"": 0}  # grid ids, assignees and categories as small integers
        self._names: list[str] = [""]  # and back
        self._n = 0
        self._cols: dict[str, np.ndarray] = self._empty(1024)

    @staticmethod
    def _empty(size: int) -> dict[str, np.ndarray]:
        return {
            "id": np.zeros(size, np.int64), "lat": np.zeros(size), "lon": np.zeros(size),
            "status": np.zeros(size, np.int8), "category": np.zeros(size, np.int32), "grid": np.zeros(size, np.int32),
            "kind": np.zeros(size, np.int8), "assignee": np.zeros(size, np.int32),
            "accept_due": np.full(size, np.nan), "resolve_due": np.full(size, np.nan), "created": np.zeros(size),
            "hidden": np.zeros(size, bool),
        }  # fmt: skip

    def _code(self, text: str) -> int:
        code = self._codes.get(text)
        if code is None:
            code = self._codes[text] = len(self._names)
            self._names.append(text)
        return code

    def codes(self, texts: Any) -> np.ndarray:
        """Codes of the strings we have seen (an unseen string matches no report, so it is left out)."""
        return np.array([self._codes[t] for t in texts if t in self._codes], np.int32)

    async def refresh(self) -> None:
        async with self._lock:
            cursor = await change_cursor(self.db)
            if cursor == self._cursor:
                return
            ids: list[int] | None = None
            if self._cursor >= 0:
                ids = await console_store.changed_since(self.db, self._cursor)
            if ids is None or len(ids) > _REBUILD:
                # Everything, built off the event loop into fresh arrays, then swapped in at once (no await
                # between the assignments, so no reader sees half of it).
                rows = await console_store.point_rows(self.db)
                fresh = PointCache(self.db)
                await asyncio.to_thread(fresh._apply, rows)
                self._row, self._codes, self._names = fresh._row, fresh._codes, fresh._names
                self._n, self._cols = fresh._n, fresh._cols
            else:
                rows = []
                for i in range(0, len(ids), _CHUNK):
                    part = ids[i : i + _CHUNK]
                    rows += await console_store.point_rows(self.db, part)
                self._apply(rows)
            self._cursor = cursor

    def _apply(self, rows: list[Any]) -> None:
        needed = self._n + sum(1 for row in rows if row["id"] not in self._row)
        if needed > len(self._cols["id"]):
            grown = self._empty(max(needed, 2 * len(self._cols["id"])))
            for name, column in self._cols.items():
                grown[name][: self._n] = column[: self._n]
            self._cols = grown
        c = self._cols
        for row in rows:
            i = self._row.get(row["id"])
            if i is None:
                i = self._row[row["id"]] = self._n
                self._n += 1
            c["id"][i], c["lat"][i], c["lon"][i] = row["id"], row["lat"], row["lon"]
            c["status"][i] = STATUSES.index(row["status"]) if row["status"] in STATUSES else -1
            c["category"][i] = self._code(row["category"])
            c["grid"][i] = self._code(row["grid"])
            c["kind"][i] = KINDS.index(row["assignee_kind"]) if row["assignee_kind"] in KINDS else 0
            c["assignee"][i] = self._code(row["assignee"])
            c["accept_due"][i] = np.nan if row["accept_due"] is None else row["accept_due"]
            c["resolve_due"][i] = np.nan if row["resolve_due"] is None else row["resolve_due"]
            c["created"][i] = row["created"] if row["created"] is not None else 0.0
            c["hidden"][i] = bool(row["hidden"])

    # ------------------------------------------------------------------ masks

    def _col(self, name: str) -> np.ndarray:
        return self._cols[name][: self._n]

    def _status_in(self, statuses: Any) -> np.ndarray:
        return np.isin(self._col("status"), [STATUSES.index(s) for s in statuses])

    def _assigned(self, kind: str, values: Any) -> np.ndarray:
        return (self._col("kind") == KINDS.index(kind)) & np.isin(self._col("assignee"), self.codes(values))

    def late(self, now: datetime) -> np.ndarray:
        t = now.timestamp()
        with np.errstate(invalid="ignore"):  # NaN deadlines (none set) are never late, as in SQL
            return (self._status_in(WAITING) & (self._col("accept_due") < t)) | (
                self._status_in(RUNNING) & (self._col("resolve_due") < t)
            )

    def scope_mask(self, scope: Scope) -> np.ndarray:
        """Scope.where in vector form (same clauses, same meaning)."""
        if scope.everything:
            return np.ones(self._n, bool)
        mask = np.zeros(self._n, bool)
        if scope.area_grids:
            mask |= np.isin(self._col("grid"), self.codes(scope.area_grids)) | self._assigned("grid", scope.area_grids)
        if scope.areas:
            mask |= self._assigned("street_queue", scope.areas)
        if scope.worker_grids:
            mask |= self._assigned("grid", scope.worker_grids)
        if scope.departments:
            mask |= self._assigned("department", scope.departments)
        return mask

    def filter_mask(self, flt: ConsoleFilter, grids: Any, now: datetime, late: np.ndarray) -> np.ndarray:
        """ConsoleFilter.where in vector form."""
        mask = ~self._col("hidden")
        if flt.q:
            report_id = parse_ref(flt.q) or (int(flt.q) if flt.q.isdigit() else -1)
            mask &= self._col("id") == report_id
        if flt.state == "open":
            mask &= self._status_in(sorted(s.value for s in OPEN))
        elif flt.state == "late":
            mask &= late
        elif flt.state != "all":
            mask &= self._status_in([flt.state])
        if flt.category:
            mask &= np.isin(self._col("category"), self.codes([flt.category]))
        if flt.grid:
            ids = descendants(grids, flt.grid)
            mask &= np.isin(self._col("grid"), self.codes(ids)) | self._assigned("grid", ids)
        if flt.age:
            mask &= self._col("created") < (now - timedelta(days=flt.age)).timestamp()
        return mask

    # ------------------------------------------------------------------ answers

    async def map_view(
        self, scope: Scope, flt: ConsoleFilter, grids: Any, now: datetime, box: BBox, crs: str
    ) -> dict[str, Any]:
        """The same answer as queries.map_view (points or ~64×64 cells), from memory."""
        await self.refresh()
        lat, lon = self._col("lat"), self._col("lon")
        late = self.late(now)
        mask = self.scope_mask(scope) & self.filter_mask(flt, grids, now, late)
        mask &= (lat >= box.south) & (lat <= box.north) & (lon >= box.west) & (lon <= box.east)
        chosen = np.flatnonzero(mask)
        if len(chosen) <= MAX_POINTS:
            points = []
            for i in chosen:
                shown = from_wgs84(float(lat[i]), float(lon[i]), crs)
                report_id = int(self._col("id")[i])
                points.append({"id": report_id, "ref": f"SP-{report_id:06d}", "lat": round(shown[0], 6),
                               "lon": round(shown[1], 6), "status": STATUSES[self._col("status")[i]],
                               "category": self._names[self._col("category")[i]],
                               "late": bool(late[i])})  # fmt: skip
            return {"count": len(points), "points": points}
        cell_lat, cell_lon = (box.north - box.south) / 64, (box.east - box.west) / 64
        cy = np.trunc((lat[chosen] - box.south) / cell_lat).astype(np.int64)
        cx = np.trunc((lon[chosen] - box.west) / cell_lon).astype(np.int64)
        key = cy * 1024 + cx
        cells, inverse = np.unique(key, return_inverse=True)
        n = np.bincount(inverse)
        sum_lat = np.bincount(inverse, weights=lat[chosen])
        sum_lon = np.bincount(inverse, weights=lon[chosen])
        sum_late = np.bincount(inverse, weights=late[chosen].astype(float))
        clusters = []
        for k in range(len(cells)):
            shown = from_wgs84(sum_lat[k] / n[k], sum_lon[k] / n[k], crs)
            clusters.append({"n": int(n[k]), "lat": round(shown[0], 6), "lon": round(shown[1], 6),
                             "late": int(sum_late[k] + 0.5)})  # fmt: skip
        return {"count": int(n.sum()), "clusters": clusters}

    async def backlog(self, now: datetime) -> dict[str, tuple[int, int]]:
        """Open and late reports per grid (the grid layer's shading), hidden ones left out."""
        await self.refresh()
        late = self.late(now)
        mask = self._status_in(sorted(s.value for s in OPEN)) & ~self._col("hidden")
        grid = self._col("grid")[mask]
        opened = np.bincount(grid, minlength=len(self._names))
        lates = np.bincount(grid, weights=late[mask].astype(float), minlength=len(self._names))
        names = self._names
        return {names[c]: (int(opened[c]), int(lates[c] + 0.5)) for c in np.flatnonzero(opened) if names[c]}
