"""Reading reports out for people outside the chat: the admin's table, one report's file, Open311-like exports.

Everything here reads through the store (`bot/store/report_rows.py`) and streams: rows come in batches
(`Database.stream`), so an export of a million reports holds one batch in memory, never the whole table. Nothing
here prints or parses arguments; `bot/reports/cli.py` does that, so these functions can also serve an HTTP door later.

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
from datetime import UTC, date, datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, Any

from bot.reports.categories import CATEGORY_BY_TOKEN, category
from bot.reports.model import ref_of
from bot.reports.states import Status
from bot.store.db import Database
from bot.store.report_rows import (  # noqa: F401 - the readers' names, where callers have always found them
    BATCH,
    Photo,
    Refusal,
    ReportFile,
    ReportFilter,
    ReportRow,
    iter_reports,
    report_file,
)

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
