"""The map page, the numbers page and the big screen (全屏看板) that cycles between them."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from bot.console.auth import Session
from bot.console.numbers import collect_numbers
from bot.console.queries import ConsoleFilter
from bot.geo.coords import from_wgs84
from bot.reports import notices as n
from bot.reports.states import Status
from bot.store.reports import get_report
from bot.texts import t
from handlers.console import charts
from handlers.console.render import duration, filter_bar
from handlers.console.web import PREFIX, esc, page, services_of, signed_in


def _screen(request: Request) -> bool:
    return request.query_params.get("screen") == "1"


@signed_in
async def map_page(request: Request, session: Session, lang: str) -> Response:
    services = services_of(request)
    console, settings = services.console, services.settings
    flt = ConsoleFilter.parse(request.query_params)
    stations = []
    for place in services.finder.catalog.places:
        lat, lon = from_wgs84(place.lat, place.lon, console.tiles_crs)
        stations.append({"name": place.name, "lat": round(lat, 6), "lon": round(lon, 6), "kind": place.kind})
    legend = "".join(
        f'<span class="key"><i class="dot s-{s.value}"></i>{esc(n.status_text(lang, s.value))}</span>'
        for s in (Status.FORWARDED, Status.TRANSFERRED, Status.REOPENED, Status.ACCEPTED, Status.RESOLVED)
    )
    legend += f'<span class="key"><i class="dot late"></i>{esc(t(lang, "console.map.late"))}</span>'
    legend += f'<span class="key"><i class="dot station"></i>{esc(t(lang, "console.map.station"))}</span>'
    plain = "" if settings.console_tiles else f'<span class="plain">{esc(t(lang, "console.map.plain"))}</span>'
    body = (
        "" if _screen(request) else filter_bar(lang, flt, console.grids, console.scope(session), f"{PREFIX}/")
    ) + f'<div class="legend">{legend}<span id="count"></span>{plain}</div><div id="map" class="map"></div>'
    focus_id = request.query_params.get("focus", "")
    focus = None
    if focus_id.isdigit():
        report = await get_report(services.db, int(focus_id))
        if await console.may_see(session, report):
            focus = [round(v, 6) for v in from_wgs84(report.lat, report.lon, console.tiles_crs)]  # type: ignore[union-attr]
    data = {
        "live": f"{PREFIX}/events",
        "api": {"map": f"{PREFIX}/api/map", "grids": f"{PREFIX}/api/grids", "report": f"{PREFIX}/reports/"},
        "filters": flt.query(),
        "tiles": settings.console_tiles or "",
        "attribution": settings.console_tiles_attribution,
        "stations": stations,
        "focus": focus,
        "screen": _screen(request),
        "texts": {"count": t(lang, "console.map.count", n="{n}"), "grid": t(lang, "console.map.grid",
                  name="{name}", open="{open}", late="{late}"), "late": t(lang, "console.map.late"),
                  "status": {s.value: n.status_text(lang, s.value) for s in Status}},
    }  # fmt: skip
    return await page(
        request, session, lang, active="map", title=t(lang, "console.title"), body=body,
        scripts=("vendor/leaflet/leaflet.js", "vendor/markercluster/leaflet.markercluster.js", "live.js", "map.js"),
        styles=("vendor/leaflet/leaflet.css", "vendor/markercluster/MarkerCluster.css",
                "vendor/markercluster/MarkerCluster.Default.css"),
        data=data, bare=_screen(request),
    )  # fmt: skip


def _pct(ok: int, total: int) -> float:
    return ok / total if total else 0.0


@signed_in
async def numbers_page(request: Request, session: Session, lang: str) -> Response:
    services = services_of(request)
    where, params = services.console.scope(session).where("r")
    numbers = await collect_numbers(
        services.db, services.console.grids, where, params, services.clock.now(), services.settings.tz
    )
    none = t(lang, "console.numbers.none")
    d = numbers.digest
    digest = t(
        lang, "console.numbers.digest", new=d["new"], open=d["open"], overdue=d["overdue"], resolved=d["resolved"],
        on_time=f"{d['on_time']:.0%}" if d["on_time"] is not None else none,
        satisfaction=f"{d['satisfaction']:.1f}★ ({d['rated']})" if d["satisfaction"] is not None else none,
    )  # fmt: skip
    per_grid = [(g["name"], _pct(g["on_time"], g["resolved"]), f"{_pct(g['on_time'], g['resolved']):.0%} "
                 f"({g['on_time']}/{g['resolved']})") for g in numbers.on_time_grid]  # fmt: skip
    per_category = [(n.category_text(lang, c["category"]), _pct(c["on_time"], c["resolved"]),
                     f"{_pct(c['on_time'], c['resolved']):.0%} ({c['on_time']}/{c['resolved']})")
                    for c in numbers.on_time_category]  # fmt: skip
    top = max(1, max(numbers.backlog))
    backlog = [(t(lang, f"console.age.{i}"), v / top, str(v)) for i, v in enumerate(numbers.backlog)]
    ratings_top = max(1, max(numbers.ratings))
    ratings = [("★" * (i + 1), v / ratings_top, str(v)) for i, v in enumerate(numbers.ratings)]
    medians = t(
        lang, "console.numbers.medians",
        accept=duration(lang, numbers.median_accept_min) if numbers.median_accept_min is not None else none,
        resolve=duration(lang, numbers.median_resolve_min) if numbers.median_resolve_min is not None else none,
    )  # fmt: skip
    avg = f"{numbers.rating_avg:.1f}★" if numbers.rating_avg is not None else none

    def block(key: str, svg: str, **params: object) -> str:
        return f'<section class="card"><h2>{esc(t(lang, key, **params))}</h2>{svg or esc(none)}</section>'

    body = (
        f'<h1>{esc(t(lang, "console.numbers.title"))}</h1><p class="digest" id="digest">{esc(digest)}</p>'
        f'<p class="medians" id="medians">{esc(medians)}</p><div class="cards">'
        + block("console.numbers.per_day", charts.columns([(p["date"], p["n"]) for p in numbers.per_day]))
        + block("console.numbers.backlog", charts.bars(backlog, colour=charts.LATE))
        + block("console.numbers.on_time_grid", charts.bars(per_grid, colour=charts.GOOD))
        + block("console.numbers.on_time_category", charts.bars(per_category, colour=charts.GOOD))
        + block("console.numbers.ratings", charts.bars(ratings), avg=avg, n=sum(numbers.ratings))
        + "</div>"
    )
    return await page(request, session, lang, active="numbers", title=t(lang, "console.numbers.title"), body=body,
                      scripts=("live.js",), data={"live": f"{PREFIX}/events", "refresh": "#main"},
                      bare=_screen(request))  # fmt: skip


@signed_in
async def screen_page(request: Request, session: Session, lang: str) -> Response:
    """Map and numbers in turn, full screen, for the wall of the street office (both live by themselves)."""
    body = (
        f'<div class="screen"><iframe class="slide" src="{PREFIX}/?screen=1" title="map"></iframe>'
        f'<iframe class="slide" src="{PREFIX}/numbers?screen=1" title="numbers" hidden></iframe></div>'
    )
    return await page(request, session, lang, active="screen", title=t(lang, "console.screen.title"), body=body,
                      scripts=("screen.js",), data={"seconds": 20}, bare=True)  # fmt: skip
