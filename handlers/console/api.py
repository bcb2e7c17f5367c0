"""What the console's scripts fetch (map data, live changes, the figures) and what it lets people download
(exports, photos). Everything is filtered by the session's scope before it leaves the core."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from bot.console.auth import Session
from bot.console.numbers import collect_numbers
from bot.console.queries import BBox, ConsoleFilter, change_cursor, export_filter, grid_layer
from bot.media.photos import PhotoRejected
from bot.reports.export import BOM, export_fields, export_records, protect_cell
from bot.store.reports import get_report, has_photo
from bot.texts import t
from handlers.console.web import COOKIE, headers, message_page, services_of, signed_in

LIVE_SECONDS = 600  # one event stream lives ten minutes; EventSource reconnects by itself
LIVE_POLL = 1.0


@signed_in
async def map_data(request: Request, session: Session, lang: str) -> Response:
    services = services_of(request)
    box = BBox.parse(request.query_params.get("bbox", ""))
    if box is None:
        return JSONResponse({"error": "bbox=south,west,north,east"}, status_code=400)
    console = services.console
    flt = ConsoleFilter.parse(request.query_params)
    data = await console.points.map_view(
        console.scope(session), flt, console.grids, services.clock.now(), box, console.tiles_crs
    )
    return JSONResponse(data, headers={"Cache-Control": "no-store"})


@signed_in
async def grids_data(request: Request, session: Session, lang: str) -> Response:
    services = services_of(request)
    console = services.console
    now = services.clock.now()
    backlog = await console.points.backlog(now)
    features = await grid_layer(services.db, console.scope(session), now, console.tiles_crs, backlog)
    return JSONResponse({"type": "FeatureCollection", "features": features}, headers={"Cache-Control": "no-store"})


@signed_in
async def numbers_data(request: Request, session: Session, lang: str) -> Response:
    services = services_of(request)
    where, params = services.console.scope(session).where("r")
    numbers = await collect_numbers(
        services.db, services.console.grids, where, params, services.clock.now(), services.settings.tz
    )
    return JSONResponse(numbers.as_dict(), headers={"Cache-Control": "no-store"})


@signed_in
async def events(request: Request, session: Session, lang: str) -> Response:
    """Server-sent events: `change` whenever any report in the database changes (the page then refetches
    through its own scoped endpoints, so the stream itself carries nothing a session may not see)."""
    services = services_of(request)
    token = request.cookies.get(COOKIE)

    async def stream() -> AsyncIterator[str]:
        last = await change_cursor(services.db)
        yield f"retry: 3000\nevent: hello\ndata: {last}\n\n"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + LIVE_SECONDS
        beat = loop.time()
        while loop.time() < deadline:  # bounded
            await asyncio.sleep(LIVE_POLL)
            if await request.is_disconnected() or await services.console.auth.session(token) is None:
                return
            cursor = await change_cursor(services.db)
            if cursor != last:
                last = cursor
                yield f"event: change\ndata: {cursor}\n\n"
            elif loop.time() - beat > 15:
                beat = loop.time()
                yield ": keep-alive\n\n"

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    )


async def _export(request: Request, session: Session, fmt: str) -> Response:
    services = services_of(request)
    console = services.console
    flt = export_filter(
        console.scope(session), ConsoleFilter.parse(request.query_params), console.grids, services.clock.now()
    )
    fields = export_fields(False)  # the reporter's identity stays in the CLI's admin-only export
    tz = services.settings.tz

    async def rows() -> AsyncIterator[str]:
        buffer = io.StringIO()
        if fmt == "csv":
            writer = csv.writer(buffer, dialect="excel")
            buffer.write(BOM)
            writer.writerow(fields)
        else:
            buffer.write('{"type": "FeatureCollection", "features": [')
        count = 0
        async for record in export_records(services.db, flt, tz):
            if fmt == "csv":
                writer.writerow([protect_cell(record.get(name)) for name in fields])
            else:
                feature = {"type": "Feature", "id": record["service_request_id"],
                           "geometry": {"type": "Point", "coordinates": [record["long"], record["lat"]]},
                           "properties": {name: record.get(name) for name in fields}}  # fmt: skip
                buffer.write(("\n" if count == 0 else ",\n") + json.dumps(feature, ensure_ascii=False))
            count += 1
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        if fmt != "csv":
            buffer.write("\n]}\n")
        yield buffer.getvalue()

    media = "text/csv; charset=utf-8" if fmt == "csv" else "application/geo+json"
    name = f"reports.{fmt}"
    return StreamingResponse(
        rows(), media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )  # fmt: skip


@signed_in
async def export_csv(request: Request, session: Session, lang: str) -> Response:
    return await _export(request, session, "csv")


@signed_in
async def export_geojson(request: Request, session: Session, lang: str) -> Response:
    return await _export(request, session, "geojson")


@signed_in
async def photo(request: Request, session: Session, lang: str) -> Response:
    """The EXIF-free copy, and only of a photo that belongs to a report in the session's scope."""
    services = services_of(request)
    report_id = int(request.path_params["report_id"])
    sha = request.path_params["sha"]
    report = await get_report(services.db, report_id)
    if not await services.console.may_see(session, report, action="console_photo"):
        return message_page(request, lang, t(lang, "console.not_found"), status=404)
    if not await has_photo(services.db, report_id, sha.lower()):
        return message_page(request, lang, t(lang, "console.not_found"), status=404)
    try:
        data = await services.photos.shareable(sha)
    except (PhotoRejected, ValueError, FileNotFoundError):
        return message_page(request, lang, t(lang, "console.not_found"), status=404)
    return Response(
        data, media_type="image/jpeg", headers={**headers(request), "Cache-Control": "private, max-age=3600"}
    )
