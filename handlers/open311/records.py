"""Reports as GeoReport v2 service requests: the query behind GET requests, and the record mapping.

The mapping starts from `bot.reports.export.open311_record` (the CSV/GeoJSON export's record, without personal
data) and only adapts it to the API: ``status`` becomes the spec's ``open``/``closed`` with our finer status kept
as ``rider_bot:status``, and the spec's remaining fields are added (empty where we have nothing). No reporter
field is ever read into a record: `personal=False` leaves out user ids, names and channel accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

from bot.presenters.places import distance_text
from bot.reports import export as ex
from bot.reports.states import OPEN, Status
from bot.services.container import Services
from bot.store import report_rows
from handlers.open311.formats import PREFIX

NEAR_PLACE_M = 1000.0  # as the export and the worker's card: a place further away misleads more than it helps
CLOSED = frozenset(Status) - OPEN
# Notes a worker writes for the reporter: the latest one is the request's status_notes.
_NOTE_ACTIONS = ("resolve", "reject")


def spec_status(status: str) -> str:
    return "open" if status in OPEN else "closed"


@dataclass(frozen=True)
class Query:
    """What GET requests asked for; `ids` (service_request_id) overrides everything but paging."""

    flt: ex.ReportFilter
    bbox: tuple[float, float, float, float] | None = None  # min_lon, min_lat, max_lon, max_lat
    ids: tuple[int, ...] = ()
    limit: int = 50
    offset: int = 0


async def fetch(services: Services, query: Query) -> list[ex.ReportRow]:
    if query.ids:
        return await report_rows.rows_by_id(services.db, query.ids, query.limit, query.offset)
    # Newest first (what a city's dashboard wants).
    return await report_rows.newest_rows(services.db, query.flt, query.bbox, query.limit, query.offset)


async def status_notes(services: Services, ids: Sequence[int]) -> dict[int, str]:
    return await report_rows.latest_notes(services.db, ids, _NOTE_ACTIONS)


def nearby(services: Services) -> ex.Nearby:
    catalog = services.finder.catalog

    def near(lat: float, lon: float) -> str:
        found = catalog.nearest(lat, lon, 1, max_distance_m=NEAR_PLACE_M)
        if not found:
            return ""
        place, metres = found[0]
        return f"{place.name} ({distance_text('zh-CN', metres)})"

    return near


def request_record(row: ex.ReportRow, tz: tzinfo, near: ex.Nearby, note: str = "") -> dict[str, Any]:
    record = ex.open311_record(row, tz, personal=False, near=near)
    spec = {
        "service_request_id": record["service_request_id"],
        "status": spec_status(row.status),
        "status_notes": note,
        "service_name": record["service_name"],
        "service_code": record["service_code"],
        "description": record["description"],
        "agency_responsible": record["agency_responsible"],
        "service_notice": "",
        "requested_datetime": record["requested_datetime"],
        "updated_datetime": record["updated_datetime"],
        "expected_datetime": "",
        "address": record["address"],
        "address_id": "",
        "zipcode": "",
        "lat": record["lat"],
        "long": record["long"],
        "media_url": "",
        "rider_bot:status": row.status,
    }
    # Our extensions, as the export names them; personal fields are not in the record, and never copied.
    spec.update(
        (key, value) for key, value in record.items() if key.startswith(PREFIX) and key not in ex.PERSONAL_FIELDS
    )
    return spec


async def records(services: Services, rows: Sequence[ex.ReportRow]) -> list[dict[str, Any]]:
    notes = await status_notes(services, [row.id for row in rows])
    near, tz = nearby(services), services.settings.tz
    return [request_record(row, tz, near, notes.get(row.id, "")) for row in rows]
