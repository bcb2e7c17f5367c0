"""The Open311 GeoReport v2 door: a city platform reads our reports and files new ones over HTTP.

One route catches everything under ``/open311/v2/`` so every answer, a wrong path or method included, comes in
the spec's format (``.json`` / ``.xml``) and never as a bare framework page. Reading needs no key (as the spec
says; ``open311_private_reads = true`` in the config file requires one); filing a request needs an API key
(`rider-bot apikey create NAME`). A filed request enters the same intake as a rider's 随手拍: committed,
routed and forwarded to the grid worker through the outbox, with the key's client as the reporter.

Nothing personal leaves here: records come from `records.request_record` (no reporter fields), and the
contact fields a client may POST (first_name, last_name, email, phone, device_id, account_id) are neither
stored nor returned.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from starlette.requests import Request
from starlette.responses import Response

from bot import metrics
from bot.geo.coords import out_of_china
from bot.reports import export as ex
from bot.reports.categories import CATEGORIES, CATEGORY_BY_TOKEN
from bot.reports.common import MAX_WORDS
from bot.reports.model import Report, ref_of
from bot.services.container import Services
from bot.store import apikeys
from bot.store.db import Connection
from bot.store.errors import is_storage_error
from handlers.open311 import attributes, records
from handlers.open311 import params as p
from handlers.open311.formats import FORMATS, ApiError, error, render, render_one

log = logging.getLogger(__name__)

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
MAX_PAGE = 100_000
WINDOW = timedelta(days=90)  # the spec's default window, and the longest start_date..end_date span
MAX_BODY = 64 * 1024
MAX_ADDRESS = 200
MAX_MEDIA_URL = 500
DEFAULT_PER_HOUR = 300  # requests per API key per hour (`open311_requests_per_hour` in the config file)
_FORM = "application/x-www-form-urlencoded"


def _services(request: Request) -> Services:
    return request.app.state.services


async def endpoint(request: Request) -> Response:
    path: str = request.path_params.get("path", "")
    base, dot, fmt = path.rpartition(".")
    if not dot or fmt not in FORMATS:
        return error(404, "not found: paths end in .json or .xml", "json")
    method = "GET" if request.method == "HEAD" else request.method
    try:
        _strict_query(request)
        return await _dispatch(request, method, base.strip("/"), fmt)
    except ApiError as exc:
        return error(exc.status, exc.description, fmt, exc.headers, exc.more)
    except Exception as exc:  # an answer in the spec's format even for our own bug; the log has the traceback
        log.exception("open311 %s %s failed", request.method, request.url.path)
        if is_storage_error(exc):  # disk full, read-only, database gone: the client should simply try later
            metrics.storage_error("open311")
            return error(503, "storage unavailable, nothing was saved: try again later", fmt, {"Retry-After": "60"})
        return error(500, "internal error", fmt)


def _strict_query(request: Request) -> None:
    """Percent-encoded bytes that are not UTF-8 (``%FF``) are a 400, like raw ones — never stored as U+FFFD."""
    raw = request.scope.get("query_string", b"").decode("latin-1")
    try:
        parse_qsl(raw, keep_blank_values=True, encoding="utf-8", errors="strict", max_num_fields=1000)
    except UnicodeDecodeError as exc:
        raise ApiError(400, "the query string is not UTF-8 (percent-encoded bytes must decode as UTF-8)") from exc
    except ValueError as exc:
        raise ApiError(400, "too many query parameters") from exc


async def _dispatch(request: Request, method: str, base: str, fmt: str) -> Response:
    parts = base.split("/")
    allowed = "GET, HEAD"
    if parts == ["discovery"]:
        if method == "GET":
            return discovery(request, fmt)
    elif parts == ["services"]:
        if method == "GET":
            return await services_list(request, fmt)
    elif len(parts) == 2 and parts[0] == "services":
        if method == "GET":
            return await service_definition(request, parts[1], fmt)
    elif parts == ["requests"]:
        allowed = "GET, HEAD, POST"
        if method == "GET":
            return await requests_list(request, fmt)
        if method == "POST":
            return await create_request(request, fmt)
    elif len(parts) == 2 and parts[0] == "requests":
        if method == "GET":
            return await one_request(request, parts[1], fmt)
    elif len(parts) == 2 and parts[0] == "tokens":
        if method == "GET":
            return await token(request, parts[1], fmt)
    else:
        raise ApiError(404, "not found: see docs/OPEN311.md for the endpoints")
    raise ApiError(405, f"method {request.method} not allowed here", {"Allow": allowed})


# ---------------------------------------------------------------------------------------------------- keys


async def _key(request: Request, form: dict[str, str] | None = None) -> apikeys.ApiKey:
    text = (form or {}).get("api_key") or request.query_params.get("api_key") or ""
    key = await apikeys.live_key(_services(request).db, text.strip())
    if key is None:
        raise ApiError(403, "api_key missing, unknown or revoked")
    return key


async def _reader(request: Request) -> None:
    if _services(request).settings.extra.get("open311_private_reads"):
        await _key(request)


# ---------------------------------------------------------------------------------------------------- services

API_CHANGESET = "2026-12-01T00:00:00Z"  # when this endpoint's behaviour last changed (discovery's changeset)


def discovery(request: Request, fmt: str) -> Response:
    """GeoReport v2 service discovery: where the endpoint is, which formats, how to get a key."""
    extra = _services(request).settings.extra
    url = str(request.url).split("?", 1)[0].rsplit("/discovery.", 1)[0]
    document = {
        "changeset": API_CHANGESET,
        "contact": str(extra.get("open311_contact", "")),
        "key_service": str(extra.get("open311_key_service", "ask the operator: rider-bot apikey create NAME")),
        "endpoints": [
            {
                "specification": "http://wiki.open311.org/GeoReport_v2",
                "url": url,
                "changeset": API_CHANGESET,
                "type": "production",
                "formats": ["text/xml", "application/json"],
            }
        ],
    }
    return render_one(document, fmt, "discovery")


async def services_list(request: Request, fmt: str) -> Response:
    departments = {code: zh for code, zh, _ in await _services(request).roles.departments()}
    questions = _services(request).reports.questions
    items = [
        {
            "service_code": c.token,
            "service_name": c.zh,
            "description": f"{c.zh} / {c.en}",
            "metadata": bool(questions.for_category(c.token)),
            "type": "realtime",
            "keywords": ", ".join((c.zh, c.en, c.token)),
            "group": departments.get(c.department, c.department),
            "rider_bot:name_en": c.en,
            "rider_bot:department": c.department,
        }
        for c in CATEGORIES
    ]
    return render(items, fmt, "services", "service")


async def service_definition(request: Request, code: str, fmt: str) -> Response:
    """The spec's service definition: the category's questions as attributes (none: an empty list)."""
    if code not in CATEGORY_BY_TOKEN:
        raise ApiError(404, f"unknown service_code {p.echo(code)}")
    return render_one(attributes.definition(_services(request).reports.questions, code), fmt, "service_definition")


# ---------------------------------------------------------------------------------------------------- reading


def _query(request: Request) -> records.Query:
    q = request.query_params
    services = _services(request)
    tz = services.settings.tz
    page = p.integer(q, "page", 1, 1, MAX_PAGE)
    size = p.integer(q, "page_size", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    paging = {"limit": size, "offset": (page - 1) * size}
    ids = q.get("service_request_id")
    if ids is not None and ids.strip():
        # overrides every other filter, and is answered whole (up to its 200-id limit), never paged
        wanted = p.request_ids(ids)
        return records.Query(ex.ReportFilter(), ids=wanted, limit=max(len(wanted), 1), offset=0)
    codes = p.service_codes(q.get("service_code"))
    statuses: set[str] = set()
    for word in p.words(q.get("status")):
        if word not in ("open", "closed"):
            raise ApiError(400, f"status must be open or closed (comma-separated), got {p.echo(word)}")
        statuses |= records.OPEN if word == "open" else records.CLOSED
    start, end = p.moment(q, "start_date", tz), p.moment(q, "end_date", tz, end=True)
    try:
        if start is None and end is None:
            start = services.clock.now() - WINDOW
        elif start is None:
            assert end is not None
            start = end - WINDOW
        elif end is None:
            end = start + WINDOW
    except OverflowError as exc:
        raise ApiError(400, "start_date or end_date out of range") from exc
    if end is not None and end <= start:
        raise ApiError(400, "end_date must be after start_date")
    # Exactly 90 days between the moments as written (a date-only end_date is that day's midnight here; the
    # query still includes the whole day, and a full timestamp's end is inclusive).
    written_end = p.moment(q, "end_date", tz)
    if written_end is not None and written_end - start > WINDOW:
        raise ApiError(400, "start_date to end_date may not span more than 90 days")
    box = p.bbox(q.get("rider_bot:bbox") or q.get("bbox"))
    flt = ex.ReportFilter(
        since=start,
        until=end,
        statuses=tuple(sorted(statuses)) if len(statuses) < len(records.OPEN | records.CLOSED) else (),
        categories=codes,
    )
    return records.Query(flt, bbox=box, **paging)


async def requests_list(request: Request, fmt: str) -> Response:
    await _reader(request)
    services = _services(request)
    rows = await records.fetch(services, _query(request))
    return render(await records.records(services, rows), fmt, "service_requests", "request")


async def one_request(request: Request, text: str, fmt: str) -> Response:
    await _reader(request)
    services = _services(request)
    report_id = p.request_id(text)
    rows = await records.fetch(services, records.Query(ex.ReportFilter(), ids=(report_id,))) if report_id else []
    if not rows:
        raise ApiError(404, f"no service request {p.echo(text)}")
    return render(await records.records(services, rows), fmt, "service_requests", "request")


async def token(request: Request, text: str, fmt: str) -> Response:
    await _reader(request)
    services = _services(request)
    report_id = await apikeys.report_for_token(services.db, text)
    if report_id is None:
        raise ApiError(404, f"no token {p.echo(text)}")
    return render([{"service_request_id": ref_of(report_id), "token": text}], fmt, "service_requests", "request")


# ---------------------------------------------------------------------------------------------------- filing


async def _form(request: Request) -> tuple[dict[str, str], list[tuple[str, str]]]:
    media = request.headers.get("content-type", _FORM).split(";")[0].strip().lower()
    if media not in (_FORM, ""):
        raise ApiError(415, f"send the request as {_FORM}")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise ApiError(413, f"request body over {MAX_BODY // 1024} KiB")
    try:
        text = body.decode("utf-8")
        pairs = parse_qsl(
            text, keep_blank_values=True, strict_parsing=False, max_num_fields=100, encoding="utf-8", errors="strict"
        )
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiError(400, "the request body is not UTF-8 form data") from exc
    return dict(pairs), pairs  # a repeated field: the last one counts (but for attribute[code][])


async def _where(services: Services, form: dict[str, str]) -> tuple[float, float]:
    lat_text, lon_text = form.get("lat", "").strip(), form.get("long", "").strip()
    if lat_text or lon_text:
        if not (lat_text and lon_text):
            raise ApiError(400, "lat and long go together (WGS-84)")
        lat, lon = p.number(lat_text, "lat", -90, 90), p.number(lon_text, "long", -180, 180)
    else:
        address = " ".join(form.get("address_string", "").split())
        if not address:
            raise ApiError(400, "a location is required: lat and long (WGS-84), or address_string")
        if len(address) > MAX_ADDRESS:
            raise ApiError(400, f"address_string longer than {MAX_ADDRESS} characters")
        found = await services.finder.search(address)
        if found.status == "unique":
            lat, lon = found.matches[0].lat, found.matches[0].lon
        elif found.status == "geocoded" and found.geocoded is not None:
            _, lat, lon = found.geocoded
        elif found.status == "choose":
            raise ApiError(400, "address_string matches several places; send lat and long")
        else:
            raise ApiError(400, "address_string not found; send lat and long")
    if out_of_china(lat, lon) or not services.reports.covers(lat, lon):
        km = services.settings.coverage_km
        raise ApiError(400, f"the location is outside this deployment's coverage (within {km:g} km of a grid)")
    return lat, lon


def _description(form: dict[str, str]) -> str:
    text = " ".join(form.get("description", "").split())
    text = "".join(ch for ch in text if ch.isprintable())
    if len(text) > MAX_WORDS:
        raise ApiError(400, f"description longer than {MAX_WORDS} characters")
    media_url = form.get("media_url", "").strip()
    if media_url:
        # Kept as text for the worker to open; we never fetch a client's URL ourselves.
        parts = urlsplit(media_url) if len(media_url) <= MAX_MEDIA_URL and media_url.isprintable() else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc or " " in media_url:
            raise ApiError(400, f"media_url must be an http(s) URL of at most {MAX_MEDIA_URL} characters")
        text = f"{text}\nmedia_url: {media_url}" if text else f"media_url: {media_url}"
    return text


async def create_request(request: Request, fmt: str) -> Response:
    services = _services(request)
    form, pairs = await _form(request)
    key = await _key(request, form)
    code = form.get("service_code", "").strip()
    if code not in CATEGORY_BY_TOKEN:
        raise ApiError(400, f"unknown or missing service_code {p.echo(code)}; see services.json")
    answers = attributes.check(services.reports.questions, code, attributes.collect(pairs))
    lat, lon = await _where(services, form)
    description = _description(form)
    # first_name, last_name, email, phone, device_id, account_id: accepted and dropped, never stored.
    client = await services.users.identify("open311", key.name, key.name)
    banned = await services.reports.moderation.ban_of(client.id)
    if banned is not None:
        raise ApiError(403, f"this client may not file requests until {banned[0]} (reason: {p.echo(banned[1], 100)})")
    issued = apikeys.new_token()

    async def keep_token(conn: Connection, report: Report) -> None:
        await apikeys.insert_token(conn, issued, report.id, key.id, report.created_at)

    per_hour = _per_hour(services)
    report = await services.reports.submit_api(
        client, code, lat, lon, description, per_hour=per_hour, answers=answers, in_transaction=keep_token
    )
    if report is None:
        raise ApiError(429, f"more than {per_hour} requests in an hour with this api_key", {"Retry-After": "600"})
    notice = await services.reports.assignee_text("zh-CN", report)
    item: dict[str, Any] = {"service_request_id": report.ref, "token": issued, "service_notice": notice,
                            "account_id": None}  # fmt: skip
    return render([item], fmt, "service_requests", "request")


def _per_hour(services: Services) -> int:
    value = services.settings.extra.get("open311_requests_per_hour", DEFAULT_PER_HOUR)
    return value if isinstance(value, int) and value > 0 else DEFAULT_PER_HOUR
