"""Reading reports out for people outside the chat: the admin's table, one report's file, Open311-like exports.

Everything here reads through `Database` and streams: rows come from a cursor in batches (`Database.stream`), so an
export of a million reports holds one batch in memory, never the whole table. Nothing here prints or parses
arguments; `bot/reports/cli.py` does that, so these functions can also serve an HTTP door later.

Times. Reports store aware ISO stamps (`ReportService._stamp`), but not necessarily all in one offset (a clock
in UTC, a clock in Asia/Shanghai, rows imported from elsewhere). Comparing those strings as text would put
`2026-11-26T00:30:00+08:00` after `2026-11-25T20:00:00+00:00` although it is earlier, so filters compare
`julianday(...)` values, which SQLite computes from the instant (offset applied, millisecond integers), and the
bounds are sent as UTC. A stamp without an offset is read as UTC, the same way SQLite reads it.

Personal data. A report's export row says what, where, when and who is working on it. Who reported it (our user
id, display name, the channel's own user id) is added only when the caller asks for `personal=True`; the CLI
flag that asks for it is documented as admin-only.

Spreadsheets. A CSV cell that begins with ``=``, ``+``, ``-``, ``@``, tab or carriage return is run as a formula
by Excel and LibreOffice (OWASP "CSV Injection"), so such text cells get a leading ``'``. A cell that already
begins with ``'`` gets one too, so the protection is reversible exactly: drop one leading ``'``
(`unprotect_cell`). Numbers we format ourselves (coordinates, counts) are left alone: they are numbers.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import tempfile
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, Any

from bot.reports.categories import CATEGORY_BY_TOKEN, category
from bot.reports.model import Event, ref_of
from bot.reports.states import Status
from bot.store.db import Database

BATCH = 500
# Excel only shows UTF-8 (Chinese) correctly when the file starts with a byte order mark.
BOM = "\ufeff"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PROTECT_STARTS = (*FORMULA_STARTS, "'")

# Open311 GeoReport v2 service-request field names first, then ours under a namespace so a consumer that knows
# Open311 can ignore the rest.
OPEN311_FIELDS: tuple[str, ...] = (
    "service_request_id",
    "service_code",
    "service_name",
    "status",
    "description",
    "lat",
    "long",
    "requested_datetime",
    "updated_datetime",
    "address",
    "agency_responsible",
    "rider_bot:grid_id",
    "rider_bot:grid_name",
    "rider_bot:assignee_kind",
    "rider_bot:assignee",
    "rider_bot:rating",
    "rider_bot:photos",
    "rider_bot:photos_before",
    "rider_bot:photos_after",
    "rider_bot:followers",
    "rider_bot:merged_into",
    "rider_bot:resolved_datetime",
    "rider_bot:answers",
)
PERSONAL_FIELDS: tuple[str, ...] = (
    "rider_bot:reporter_id",
    "rider_bot:reporter_name",
    "rider_bot:reporter_channel",
    "rider_bot:reporter_external_id",
)


def export_fields(personal: bool) -> tuple[str, ...]:
    return OPEN311_FIELDS + (PERSONAL_FIELDS if personal else ())


# ---------------------------------------------------------------------------------------------------- filters


class BadMoment(ValueError):
    """A --since/--until value that is neither a date nor an ISO datetime."""


def parse_moment(text: str, tz: tzinfo, *, end: bool = False) -> datetime:
    """An aware instant from ``YYYY-MM-DD`` or an ISO datetime; dates and naive times are local to `tz`.

    With `end`, a bare date means the *end* of that local day (the next local midnight), so ``--until
    2026-11-26`` includes the whole of the 26th in Shanghai, which is what a person typing a date means.
    """
    value = (text or "").strip()
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            start = datetime(day.year, day.month, day.day, tzinfo=tz)
            return start + timedelta(days=1) if end else start
        moment = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadMoment(value) from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def parse_list(values: Iterable[str] | None) -> list[str]:
    """``--status a,b --status c`` → [a, b, c]: comma lists and repeated options both work."""
    out: list[str] = []
    for value in values or ():
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


def unknown_statuses(statuses: Iterable[str]) -> list[str]:
    known = {s.value for s in Status}
    return [s for s in statuses if s not in known]


def unknown_categories(tokens: Iterable[str]) -> list[str]:
    return [c for c in tokens if c not in CATEGORY_BY_TOKEN]


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


def parse_stamp(stamp: str) -> datetime:
    """A stored stamp as an aware datetime; one without an offset is UTC (as SQLite's julianday reads it)."""
    moment = datetime.fromisoformat(stamp)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def local_text(stamp: str | None, tz: tzinfo, *, seconds: bool = False) -> str:
    if not stamp:
        return ""
    try:
        moment = parse_stamp(stamp).astimezone(tz)
    except ValueError:
        return stamp  # shown as stored rather than hidden: an audit must not lose a value it cannot read
    return moment.strftime("%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M")


def local_iso(stamp: str | None, tz: tzinfo) -> str:
    """ISO 8601 with the local offset, as Open311 consumers expect (``2026-11-26T10:00:00+08:00``)."""
    if not stamp:
        return ""
    try:
        return parse_stamp(stamp).astimezone(tz).isoformat(timespec="seconds")
    except ValueError:
        return stamp


# ---------------------------------------------------------------------------------------------------- reading

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
class ReportRow:
    """One report with what a reader outside the chat needs next to it (names, counts, the reporter)."""

    id: int
    reporter_id: int
    category: str
    lat: float
    lon: float
    description: str
    status: str
    version: int
    grid_id: str | None
    assignee_kind: str
    assignee: str
    merged_into: int | None
    rating: int | None
    created_at: str
    updated_at: str
    resolved_at: str | None
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

    @property
    def ref(self) -> str:
        return ref_of(self.id)

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
    async for row in db.stream(sql, params, batch=batch):
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


# ---------------------------------------------------------------------------------------------------- exporting

Nearby = Callable[[float, float], str]


def open311_record(row: ReportRow, tz: tzinfo, *, personal: bool = False, near: Nearby | None = None) -> dict[str, Any]:
    """One report as an Open311-like record with typed values (numbers stay numbers, missing is None)."""
    record: dict[str, Any] = {
        "service_request_id": row.ref,
        "service_code": row.category,
        "service_name": category(row.category).zh,
        "status": row.status,
        "description": row.description,
        "lat": row.lat,
        "long": row.lon,
        "requested_datetime": local_iso(row.created_at, tz),
        "updated_datetime": local_iso(row.updated_at, tz),
        "address": near(row.lat, row.lon) if near else "",
        "agency_responsible": row.assignee_name("zh-CN") if row.assignee else "",
        "rider_bot:grid_id": row.grid_id,
        "rider_bot:grid_name": row.grid_name,
        "rider_bot:assignee_kind": row.assignee_kind,
        "rider_bot:assignee": row.assignee,
        "rider_bot:rating": row.rating,
        "rider_bot:photos": row.photos_before + row.photos_after,
        "rider_bot:photos_before": row.photos_before,
        "rider_bot:photos_after": row.photos_after,
        "rider_bot:followers": row.followers,
        "rider_bot:merged_into": ref_of(row.merged_into) if row.merged_into else None,
        "rider_bot:resolved_datetime": local_iso(row.resolved_at, tz) or None,
        "rider_bot:answers": json.loads(row.answers or "{}"),
    }
    if personal:
        record["rider_bot:reporter_id"] = row.reporter_id
        record["rider_bot:reporter_name"] = row.reporter_name
        record["rider_bot:reporter_channel"] = row.reporter_channel
        record["rider_bot:reporter_external_id"] = row.reporter_external_id
    return record


def protect_cell(value: object) -> str:
    """A CSV cell a spreadsheet will show as text, never run as a formula (see the module docstring)."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else str(value)
    return "'" + text if text.startswith(_PROTECT_STARTS) else text


def unprotect_cell(text: str) -> str:
    """The inverse of `protect_cell` for text: drop the one leading quote it may have added."""
    return text[1:] if text.startswith("'") else text


async def write_csv(rows: AsyncIterator[dict[str, Any]], out: IO[str], fields: tuple[str, ...]) -> int:
    """BOM, header, then one RFC 4180 line per record (csv module, CRLF, minimal quoting); returns the count.

    `out` must be opened with ``newline=""`` so the csv module's line endings reach the file unchanged.
    """
    out.write(BOM)
    writer = csv.writer(out, dialect="excel")
    writer.writerow(fields)
    count = 0
    async for record in rows:
        writer.writerow([protect_cell(record.get(name)) for name in fields])
        count += 1
    return count


async def write_geojson(rows: AsyncIterator[dict[str, Any]], out: IO[str], fields: tuple[str, ...]) -> int:
    """An RFC 7946 FeatureCollection of WGS-84 Points ([lon, lat]), written feature by feature."""
    out.write('{"type": "FeatureCollection", "features": [')
    count = 0
    async for record in rows:
        feature = {
            "type": "Feature",
            "id": record["service_request_id"],
            "geometry": {"type": "Point", "coordinates": [record["long"], record["lat"]]},
            "properties": {name: record.get(name) for name in fields},
        }
        out.write(("\n" if count == 0 else ",\n") + json.dumps(feature, ensure_ascii=False, allow_nan=False))
        count += 1
    out.write("\n]}\n")
    return count


async def export_records(
    db: Database, flt: ReportFilter, tz: tzinfo, *, personal: bool = False, near: Nearby | None = None
) -> AsyncIterator[dict[str, Any]]:
    async for row in iter_reports(db, flt):
        yield open311_record(row, tz, personal=personal, near=near)


@contextlib.contextmanager
def atomic_text_file(path: Path) -> Iterator[IO[str]]:
    """A text file that appears at `path` complete or not at all: a temporary beside it, fsync, rename.

    A reader (a cron job picking up tonight's export) never sees half a file, and a failed export leaves the
    previous file in place. The file is 0600, as the temporary already is: even without personal data an export
    holds every report's place, words and times, so it is as private as the database it comes from (a cron job
    that hands it on runs as the bot's user, or chmods it knowingly).
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
