"""Finder answers as plain text in the user's language, shared by every channel.

Plain text (no markup) on purpose: WeChat shows no HTML, and place names come from data files that may hold
any character. Channels add their own buttons around this text.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

from bot.geo.coords import wgs84_to_gcj02
from bot.places.hours import OpenState
from bot.places.model import Place
from bot.places.vocab import AMENITIES, AMENITY_BY_TOKEN, KIND_BY_TOKEN, POLICIES, POLICY_BY_TOKEN
from bot.presenters.live import live_lines
from bot.services.finder import NearestAnswer, PlaceHit
from bot.texts import t


def distance_text(lang: str, metres: float) -> str:
    if metres < 1000:
        return t(lang, "dist.m", m=max(10, round(metres / 10) * 10))
    return t(lang, "dist.km", km=metres / 1000)


def radius_text(lang: str, metres: float) -> str:
    return distance_text(lang, metres)


def open_text(lang: str, state: OpenState) -> str:
    if state.state in {"always", "unknown"}:
        return t(lang, f"open.{state.state}")
    key = f"open.{state.state}" + ("_next_day" if state.next_day else "")
    return t(lang, key, time=state.at.strftime("%H:%M") if state.at else "")


def kind_label(lang: str, kind: str) -> str:
    term = KIND_BY_TOKEN.get(kind)
    return f"{term.icon}{term.label(lang)}" if term else kind


def amenity_label(lang: str, token: str) -> str:
    term = AMENITY_BY_TOKEN.get(token)
    return f"{term.icon}{term.label(lang)}" if term else token


def _amenities(lang: str, place: Place) -> str:
    return " ".join(f"{a.icon}{a.label(lang)}" for a in AMENITIES if a.token in place.amenities)


def _policies(lang: str, place: Place) -> str:
    return " ".join(f"{p.icon}{p.label(lang)}" for p in POLICIES if p.token in place.rider_policy)


def hit_lines(lang: str, n: int, hit: PlaceHit) -> list[str]:
    place = hit.place
    lines = [
        f"{n}. {place.name} · {kind_label(lang, place.kind)}",
        f"   📏 {distance_text(lang, hit.distance_m)} · 🛵 {t(lang, 'ride', min=hit.ride_minutes)}"
        f" · {open_text(lang, hit.open_state)}",
    ]
    lines.extend(f"   {line}" for line in live_lines(lang, place, hit.checked_at))
    amenities = _amenities(lang, place)
    if amenities:
        lines.append(f"   {amenities}")
    policies = _policies(lang, place)
    if policies:
        lines.append(f"   {policies}")
    if place.phone:
        lines.append(f"   {t(lang, 'place.phone', phone=place.phone)}")
    return lines


def scope_text(lang: str, scope: str) -> str:
    term = KIND_BY_TOKEN.get(scope)
    return term.label(lang) if term else t(lang, f"scope.{scope}")


def filter_text(lang: str, amenity: str | None) -> str:
    return t(lang, "nearest.filter", amenity=amenity_label(lang, amenity)) if amenity else ""


def nearest_text(lang: str, answer: NearestAnswer) -> str:
    scope = scope_text(lang, answer.scope)
    if answer.status == "empty":
        return t(lang, "nearest.empty")
    if answer.status == "outside_china":
        return t(lang, "nearest.outside_china", lat=answer.lat, lon=answer.lon)
    if answer.status == "no_more":
        return t(lang, "nearest.no_more")
    if answer.status == "none_nearby":
        head = t(
            lang,
            "nearest.none_nearby",
            radius=radius_text(lang, answer.radius_m),
            scope=scope,
            filter=filter_text(lang, answer.amenity),
        )
    elif answer.offset:
        head = t(lang, "nearest.header_page", scope=scope, page=answer.page)
        head += filter_text(lang, answer.amenity)
    else:
        head = t(lang, "nearest.header", scope=scope) + filter_text(lang, answer.amenity)
    lines = [head, ""]
    for n, hit in enumerate(answer.hits, answer.offset + 1):
        lines.extend(hit_lines(lang, n, hit))
        lines.append("")
    if any(h.place.approximate for h in answer.hits):
        lines.append(t(lang, "nearest.approx"))
    return "\n".join(lines).strip()


def place_text(
    lang: str, place: Place, state: OpenState, distance_m: float | None = None, now: datetime | None = None
) -> str:
    lines = [f"{place.name} · {kind_label(lang, place.kind)}"]
    lines.extend(live_lines(lang, place, now))
    where = _address(place.city, place.district, place.address)
    if where:
        lines.append(t(lang, "place.address", address=where))
    if distance_m is not None:
        lines.append(f"📏 {distance_text(lang, distance_m)}")
    hours = str(place.hours)
    lines.append(open_text(lang, state) + (f" ({hours})" if hours and hours != "24h" else ""))
    amenities = _amenities(lang, place)
    if amenities:
        lines.append(t(lang, "place.amenities", items=amenities))
    policies = _policies(lang, place)
    if policies:
        lines.append(t(lang, "place.policy", items=policies))
    if place.phone:
        lines.append(t(lang, "place.phone", phone=place.phone))
    if place.notes:
        lines.append(t(lang, "place.notes", notes=place.notes))
    if place.approximate:
        lines.append(t(lang, "place.approx"))
    return "\n".join(lines)


def _address(*parts: str) -> str:
    """Join city/district/address without repeating a prefix the next part already starts with."""
    out: list[str] = []
    for part in (p for p in parts if p):
        if out and part.startswith(out[-1]):
            out[-1] = part
        else:
            out.append(part)
    return " ".join(out)


def venue_address(lang: str, place: Place) -> str:
    return _address(place.district, place.address) or place.city or kind_label(lang, place.kind)


def ride_url(lat: float, lon: float, name: str) -> str:
    """A riding route, not a pin: Amap's navigation URI (GCJ-02, `mode=ride`) opens the app's e-bike route to
    the spot; a WGS-84 point there would land 300–700 m off, at the wrong gate."""
    glat, glon = wgs84_to_gcj02(lat, lon)
    return (
        f"https://uri.amap.com/navigation?to={glon:.6f},{glat:.6f},{quote(name[:40])}"
        "&mode=ride&policy=1&coordinate=gaode&callnative=1&src=rider-bot"
    )


def amap_url(place: Place) -> str:
    return ride_url(place.lat, place.lon, place.name)


def geo_uri(place: Place) -> str:
    """RFC 5870 geo: URIs are WGS-84 by definition."""
    return f"geo:{place.lat:.6f},{place.lon:.6f}?q={place.lat:.6f},{place.lon:.6f}({quote(place.name)})"


def nav_text(lang: str, place: Place) -> str:
    return t(lang, "nav.text", name=place.name, amap=amap_url(place), geo=geo_uri(place))


def policy_label(lang: str, token: str) -> str:
    term = POLICY_BY_TOKEN.get(token)
    return f"{term.icon}{term.label(lang)}" if term else token
