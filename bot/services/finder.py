"""The station finder: what a rider gets for a location or a typed name, whatever the chat channel.

Doors (Telegram, WeChat, the CLI) call these methods and render the answers; every decision about what to
show — the radius, the honest "nothing near, nearest is far", the outside-China check, paging — is made here.
"""

from __future__ import annotations

import asyncio
import logging
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from bot.clock import Clock
from bot.geo.coords import out_of_china
from bot.geo.index import great_circle_m
from bot.places.catalog import PlaceCatalog
from bot.places.hours import OpenState
from bot.places.model import Place
from bot.places.search import MAX_QUERY, PlaceSearch, normalise

log = logging.getLogger(__name__)

SCOPES: dict[str, frozenset[str] | None] = {
    "stations": frozenset({"station", "canteen"}),
    "friendly": frozenset({"community", "merchant", "hospital"}),
    "all": None,
}
EXACT_SCORE = 95.0  # the whole name or an alias (bot/places/search.py): no need to ask "which one?"
DETOUR_FACTOR = 1.3  # streets are not straight lines; a typical urban detour over the crow-fly distance


@dataclass(frozen=True)
class PlaceHit:
    place: Place
    distance_m: float
    ride_minutes: int
    open_state: OpenState
    checked_at: datetime | None = None  # when the answer was made: the live lines say "N minutes ago" from here


@dataclass(frozen=True)
class NearestAnswer:
    lat: float
    lon: float
    scope: str
    amenity: str | None
    offset: int
    status: str  # "ok" | "none_nearby" | "outside_coverage" | "outside_china" | "empty" | "no_more"
    hits: list[PlaceHit] = field(default_factory=list)
    has_more: bool = False
    radius_m: float = 0.0
    per_page: int = 5
    cities: tuple[str, ...] = ()  # outside_coverage: where we do have data, most places first

    @property
    def amenities(self) -> tuple[str, ...]:
        """The amenity filters in force ("charging+toilet" → both required)."""
        return tuple(self.amenity.split("+")) if self.amenity else ()

    @property
    def page(self) -> int:
        return self.offset // max(self.per_page, 1) + 1


@dataclass(frozen=True)
class SearchAnswer:
    query: str
    status: str  # "unique" | "choose" | "city" | "geocoded" | "none" | "too_long"
    matches: list[Place] = field(default_factory=list)
    geocoded: tuple[str, float, float] | None = None  # (display name, lat, lon) in WGS-84; a city: its centre


class Geocoder:
    """geopy's Nominatim behind asyncio.to_thread: geopy is synchronous and must not block the loop."""

    def __init__(self, url: str, user_agent: str, timeout: float = 5.0) -> None:
        from urllib.parse import urlparse

        from geopy.geocoders import Nominatim

        parsed = urlparse(url)
        self._geocoder = Nominatim(
            domain=parsed.netloc + parsed.path.rstrip("/"),
            scheme=parsed.scheme or "https",
            user_agent=user_agent,
            timeout=timeout,
        )

    async def geocode(self, query: str) -> tuple[str, float, float] | None:
        try:
            found: Any = await asyncio.to_thread(self._geocoder.geocode, query, country_codes="cn")
        except Exception as exc:  # the geocoder is a nice-to-have; its failure must not fail the search
            log.warning("geocoder failed for %r: %s", query, type(exc).__name__)
            return None
        if found is None:
            return None
        return str(found.address), float(found.latitude), float(found.longitude)


class FinderService:
    def __init__(
        self,
        catalog: PlaceCatalog,
        clock: Clock,
        *,
        per_page: int = 5,
        radius_m: float = 5000.0,
        coverage_m: float = 20000.0,
        ebike_speed_kmh: float = 15.0,
        geocoder: Geocoder | None = None,
    ) -> None:
        self.clock = clock
        self.per_page = per_page
        self.radius_m = radius_m
        self.coverage_m = coverage_m
        self.ebike_speed_kmh = ebike_speed_kmh
        self.geocoder = geocoder
        self.replace_catalog(catalog)

    def replace_catalog(self, catalog: PlaceCatalog) -> None:
        """Swap in a rebuilt catalogue (after an import) without a restart."""
        self.catalog = catalog
        self._search = PlaceSearch(catalog.places)
        counts = Counter(p.city for p in catalog.places if p.city)
        self.cities: tuple[str, ...] = tuple(c for c, _ in sorted(counts.items(), key=lambda x: (-x[1], x[0])))
        self._city_names: dict[str, tuple[str, float, float]] | None = None  # built on the first typed search

    def covers(self, lat: float, lon: float) -> bool:
        """Within `coverage_m` of some place we know: a rider in Shanghai or at sea gets "not here yet", not a
        station 283 km away."""
        near = self.catalog.nearest(lat, lon, 1)
        return bool(near) and near[0][1] <= self.coverage_m

    def ride_minutes(self, distance_m: float) -> int:
        return max(1, round(distance_m * DETOUR_FACTOR / (self.ebike_speed_kmh * 1000 / 60)))

    def _hit(self, place: Place, distance_m: float) -> PlaceHit:
        now = self.clock.now()
        return PlaceHit(place, distance_m, self.ride_minutes(distance_m), place.hours.state_at(now), now)

    def nearest(
        self,
        lat: float,
        lon: float,
        *,
        scope: str = "stations",
        amenity: str | None = None,
        offset: int = 0,
        k: int | None = None,
    ) -> NearestAnswer:
        k = k or self.per_page
        kinds = SCOPES[scope] if scope in SCOPES else frozenset({scope})
        base = {"lat": lat, "lon": lon, "scope": scope, "amenity": amenity, "offset": offset, "per_page": k}
        if len(self.catalog) == 0:
            return NearestAnswer(status="empty", **base)
        if out_of_china(lat, lon):
            return NearestAnswer(status="outside_china", **base)
        if not self.covers(lat, lon):
            return NearestAnswer(status="outside_coverage", cities=self.cities, **base)
        wanted = amenity.split("+") if amenity else None
        found = self.catalog.nearest(
            lat, lon, k + 1, kinds=kinds, amenity=wanted, offset=offset, max_distance_m=self.radius_m
        )
        hits = [self._hit(p, d) for p, d in found[:k]]
        if hits:
            return NearestAnswer(status="ok", hits=hits, has_more=len(found) > k, radius_m=self.radius_m, **base)
        if offset:
            return NearestAnswer(status="no_more", radius_m=self.radius_m, **base)
        nearest_any = self.catalog.nearest(lat, lon, 1, kinds=kinds, amenity=wanted)
        if not nearest_any:
            nearest_any = self.catalog.nearest(lat, lon, 1, kinds=kinds)
        return NearestAnswer(
            status="none_nearby",
            hits=[self._hit(p, d) for p, d in nearest_any],
            radius_m=self.radius_m,
            **base,
        )

    def place(self, place_id: str) -> Place | None:
        return self.catalog.get(place_id)

    def open_state(self, place: Place) -> OpenState:
        return place.hours.state_at(self.clock.now())

    async def search(self, text: str, near: tuple[float, float] | None = None) -> SearchAnswer:
        """A typed name: a city gives its stations around its centre; an exact name or alias wins outright;
        otherwise a choice, nearest to the rider first when we know where they are."""
        query = " ".join(text.split())
        if len(query) > MAX_QUERY:
            return SearchAnswer(query[:20], "too_long")
        if self._city_names is None:  # pypinyin's dictionaries cost ~0.5 s to load: not at start, not on the loop
            self._city_names = await asyncio.to_thread(city_names, self.catalog.places)
        city = self._city_names.get(normalise(query))
        if city is not None:
            return SearchAnswer(query, "city", geocoded=city)
        # Scoring is linear in the candidate set; keep it off the event loop for city-sized catalogues.
        matches = await asyncio.to_thread(self._search.search, query)
        if matches:
            exact = [m for m in matches if m.score >= EXACT_SCORE]
            if len(exact) == 1 or len(matches) == 1:
                return SearchAnswer(query, "unique", [(exact or matches)[0].place])
            places = [m.place for m in (exact or matches)]
            if near is not None:
                places.sort(key=lambda p: great_circle_m(near[0], near[1], p.lat, p.lon))
            return SearchAnswer(query, "choose", places)
        if self.geocoder is not None:
            found = await self.geocoder.geocode(query)
            if found is not None:
                return SearchAnswer(query, "geocoded", geocoded=found)
        return SearchAnswer(query, "none")


def city_names(places: Iterable[Place]) -> dict[str, tuple[str, float, float]]:
    """Every way a rider may type a city in our data (徐州, 徐州市, Xuzhou) → (city, centre lat, centre lon).

    The centre is the median of the city's places: where our stations are, not the city hall."""
    from pypinyin import lazy_pinyin  # heavy (its phrase dictionary): only when a rider first types something

    coords: dict[str, list[tuple[float, float]]] = {}
    for p in places:
        if p.city:
            coords.setdefault(p.city, []).append((p.lat, p.lon))
    names: dict[str, tuple[str, float, float]] = {}
    for city, points in coords.items():
        lat = statistics.median(x for x, _ in points)
        lon = statistics.median(y for _, y in points)
        latin = "".join(lazy_pinyin(city))
        for name in (city, city + "市", latin, latin + "shi", latin + "city"):
            names.setdefault(normalise(name), (city, lat, lon))
    return names


LIVE_MIN_MOVE_M = 150.0
LIVE_MIN_INTERVAL_S = 20.0


def live_refresh_due(prev: tuple[float, float, float] | None, lat: float, lon: float, now_ts: float) -> bool:
    """A live location ticks every few seconds; refresh the list only after a real move, at a humane pace."""
    if prev is None:
        return True
    plat, plon, pts = prev
    return now_ts - pts >= LIVE_MIN_INTERVAL_S and great_circle_m(plat, plon, lat, lon) >= LIVE_MIN_MOVE_M
