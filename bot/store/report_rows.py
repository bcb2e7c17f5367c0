"""Reports as readers outside the chat see them: one row per report with its names and counts (the admin's table,
exports, the web console, Open311), one report's whole file, and the filter that picks them.

Rows stream in batches (`Database.stream`): an export of a million reports holds one batch in memory.
Times are compared as `julianday(...)` instants, never as text (stamps may carry different offsets); bounds are sent
as UTC. Values only ever travel as parameters.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.reports.model import Event, ReportCore
from bot.store.db import Database

BATCH = 500


@dataclass(frozen=True)
class ReportFilter:
    """Which reports: a half-open time window [since, until) on creation, statuses and categories (any of)."""

    since: datetime | None = None
    until: datetime | None = None
    statuses: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    # One more condition from the caller, e.g. the web console's scope and filters (values as parameters only).
    clause: str = ""
    clause_params: tuple[Any, ...] = ()

    def where(self) -> tuple[str, list[Any]]:
        """The WHERE clause and its parameters; values only ever travel as parameters."""
        clauses, params = ["1 = 1"], []
        if self.since is not None:
            clauses.append("julianday(r.created_at) >= julianday(?)")
            params.append(_utc(self.since))
        if self.until is not None:
            clauses.append("julianday(r.created_at) < julianday(?)")
            params.append(_utc(self.until))
        if self.statuses:
            clauses.append(f"r.status IN ({','.join('?' * len(self.statuses))})")
            params.extend(self.statuses)
        if self.categories:
            clauses.append(f"r.category IN ({','.join('?' * len(self.categories))})")
            params.extend(self.categories)
        if self.clause:
            clauses.append(f"({self.clause})")
            params.extend(self.clause_params)
        return " AND ".join(clauses), params


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds")


# `{source}`: hidden reports (moderation) are left out of every export and API read; only an admin's
# `reports show` reads them (ROW_SQL_ALL). Hidden photos are never counted.
_ROW_TEMPLATE = """
SELECT r.id, r.reporter_id, r.category, r.lat, r.lon, r.description, r.status, r.version, r.grid_id,
       r.assignee_kind, r.assignee, r.merged_into, r.rating, r.created_at, r.updated_at, r.resolved_at,
       gg.name AS grid_name,
       ag.name AS assignee_grid_name,
       d.name_zh AS dept_zh, d.name_en AS dept_en,
       (SELECT COUNT(*) FROM report_photos p WHERE p.report_id = r.id AND p.phase = 'before'
            AND p.hidden_at IS NULL) AS photos_before,
       (SELECT COUNT(*) FROM report_photos p WHERE p.report_id = r.id AND p.phase = 'after'
            AND p.hidden_at IS NULL) AS photos_after,
       (SELECT COUNT(*) FROM report_followers f WHERE f.report_id = r.id) AS followers,
       u.display_name AS reporter_name, u.channel AS reporter_channel, u.external_id AS reporter_external_id,
       (SELECT json_group_object(a.question, a.value) FROM report_answers a WHERE a.report_id = r.id) AS answers,
       r.hidden_at, r.hidden_reason
FROM {source} r
LEFT JOIN grids gg ON gg.id = r.grid_id
LEFT JOIN grids ag ON r.assignee_kind IN ('grid', 'street_queue') AND ag.id = r.assignee
LEFT JOIN departments d ON r.assignee_kind = 'department' AND d.code = r.assignee
LEFT JOIN users u ON u.id = r.reporter_id
"""
_ROW_SQL = _ROW_TEMPLATE.format(source="(SELECT * FROM reports WHERE hidden_at IS NULL)")
ROW_SQL_ALL = _ROW_TEMPLATE.format(source="reports")


@dataclass(frozen=True)
class ReportRow(ReportCore):
    """One report with what a reader outside the chat needs next to it (names, counts, the reporter)."""

    grid_name: str | None
    assignee_grid_name: str | None
    dept_zh: str | None
    dept_en: str | None
    photos_before: int
    photos_after: int
    followers: int
    reporter_name: str | None
    reporter_channel: str | None
    reporter_external_id: str | None
    answers: str | None  # the category questions' answers, a JSON object (question code → canonical value)
    hidden_at: str | None  # hidden by a moderator (only ROW_SQL_ALL reads such a row)
    hidden_reason: str

    def assignee_name(self, lang: str) -> str:
        """The grid's or department's name when we know it, else the stored id (never blank if assigned)."""
        if self.assignee_kind == "department":
            name = self.dept_en if lang == "en" else self.dept_zh
            return name or self.assignee
        return self.assignee_grid_name or self.assignee


_ROW_FIELDS = tuple(f for f in ReportRow.__dataclass_fields__)


def _row(row: Any) -> ReportRow:
    return ReportRow(**{name: row[name] for name in _ROW_FIELDS})


async def iter_reports(
    db: Database, flt: ReportFilter, *, order: str = "id", limit: int | None = None, batch: int = BATCH
) -> AsyncIterator[ReportRow]:
    """Matching reports in batches from one cursor. `order` is "id" (cheapest, for exports) or "created"."""
    where, params = flt.where()
    order_by = "julianday(r.created_at), r.id" if order == "created" else "r.id"
    sql = f"{_ROW_SQL} WHERE {where} ORDER BY {order_by}"
    if limit is not None:
        sql += " LIMIT ?"
        params.append(limit)
    # Closed explicitly when the caller stops early: on PostgreSQL the stream holds a pooled connection and its
    # transaction until then (a generator left to the garbage collector would keep them, and the pool's close waits).
    async with contextlib.aclosing(db.stream(sql, params, batch=batch)) as rows:
        async for row in rows:
            yield _row(row)


@dataclass(frozen=True)
class Photo:
    phase: str
    seq: int
    sha256: str
    hidden: bool = False


@dataclass(frozen=True)
class Refusal:
    at: str
    user_id: int | None
    action: str
    reason: str


@dataclass(frozen=True)
class ReportFile:
    """Everything we know about one report, for `reports show`."""

    report: ReportRow
    photos: list[Photo] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    refusals: list[Refusal] = field(default_factory=list)


async def report_file(db: Database, report_id: int) -> ReportFile | None:
    row = await db.fetchone(f"{ROW_SQL_ALL} WHERE r.id = ?", (report_id,))
    if row is None:
        return None
    photos = await db.fetchall(
        "SELECT phase, seq, sha256, hidden_at IS NOT NULL AS hidden FROM report_photos WHERE report_id = ?"
        " ORDER BY CASE phase WHEN 'before' THEN 0 ELSE 1 END, seq",
        (report_id,),
    )
    events = await db.fetchall(
        "SELECT at, actor_id, action, from_status, to_status, note FROM report_events WHERE report_id = ? ORDER BY id",
        (report_id,),
    )
    refusals = await db.fetchall(
        "SELECT at, user_id, action, reason FROM refusals WHERE report_id = ? ORDER BY id", (report_id,)
    )
    return ReportFile(
        _row(row),
        [Photo(r["phase"], r["seq"], r["sha256"], bool(r["hidden"])) for r in photos],
        [Event(*tuple(r)) for r in events],
        [Refusal(*tuple(r)) for r in refusals],
    )


async def rows_by_id(db: Database, ids: Sequence[int], limit: int, offset: int) -> list[ReportRow]:
    """Visible reports with these ids, by id, one page."""
    marks = ",".join("?" * len(ids))
    sql = f"{_ROW_SQL} WHERE r.id IN ({marks}) ORDER BY r.id LIMIT ? OFFSET ?"
    return [_row(row) for row in await db.fetchall(sql, [*ids, limit, offset])]


async def newest_rows(
    db: Database, flt: ReportFilter, bbox: tuple[float, float, float, float] | None, limit: int, offset: int
) -> list[ReportRow]:
    """Matching visible reports, newest first (ties by id, so pages never overlap), one page; `bbox` is
    (min_lon, min_lat, max_lon, max_lat)."""
    where, params = flt.where()
    if bbox is not None:
        min_lon, min_lat, max_lon, max_lat = bbox
        where += " AND r.lon BETWEEN ? AND ? AND r.lat BETWEEN ? AND ?"
        params += [min_lon, max_lon, min_lat, max_lat]
    sql = f"{_ROW_SQL} WHERE {where} ORDER BY julianday(r.created_at) DESC, r.id DESC LIMIT ? OFFSET ?"
    return [_row(row) for row in await db.fetchall(sql, [*params, limit, offset])]


async def latest_notes(db: Database, ids: Sequence[int], actions: Sequence[str]) -> dict[int, str]:
    """Per report, the note of its latest event with one of these actions."""
    if not ids:
        return {}
    rows = await db.fetchall(
        f"SELECT report_id, note FROM report_events WHERE report_id IN ({','.join('?' * len(ids))})"
        f" AND action IN ({','.join('?' * len(actions))}) ORDER BY id",
        (*ids, *actions),
    )
    return {row["report_id"]: row["note"] for row in rows}  # later rows win: the latest note
