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
    return " ".join(f"{p.icon}{p.label(lang)}" for p in _policy_terms(place))


# A merchant's "free water / restroom / charging for riders" says what its amenities already say.
_POLICY_SAME_AS_AMENITY = {"free_water": "water", "restroom": "toilet", "charging": "charging"}
# What riders look for first (渴了能喝水、累了能歇脚、没电能充电), when only three fit on a line.
_AMENITY_PRIORITY = ("charging", "water", "toilet", "microwave", "rest", "meal_discount", "aircon", "first_aid")


def top_amenities(lang: str, place: Place, wanted: tuple[str, ...] = (), limit: int = 3) -> str:
    """At most `limit` amenities — the filtered ones first, then what riders ask for most — and "+N" more."""
    order: dict[str, int] = {}
    for token in (*wanted, *_AMENITY_PRIORITY):
        order.setdefault(token, len(order))
    have = sorted(
        (a for a in AMENITIES if a.token in place.amenities),
        key=lambda a: (order.get(a.token, len(order)), AMENITIES.index(a)),
    )
    shown = " ".join(f"{a.icon}{a.label(lang)}" for a in have[:limit])
    return shown + (f" +{len(have) - limit}" if len(have) > limit else "")


def _policy_terms(place: Place) -> list:  # type: ignore[type-arg]
    shown = set(place.amenities)
    return [p for p in POLICIES if p.token in place.rider_policy and _POLICY_SAME_AS_AMENITY.get(p.token) not in shown]


def top_policies(lang: str, place: Place, limit: int = 3) -> str:
    terms = _policy_terms(place)
    shown = " ".join(f"{p.icon}{p.label(lang)}" for p in terms[:limit])
    return shown + (f" +{len(terms) - limit}" if len(terms) > limit else "")


def _open_or_policy(lang: str, hit: PlaceHit, short: bool = False) -> str:
    """Opening hours where a place has them; a residential community has a gate policy instead, and "营业时间
    未知" would only make a rider doubt they may enter."""
    if hit.open_state.state == "unknown":
        if hit.place.kind == "community":
            return top_policies(lang, hit.place, limit=2) if short else ""
        return "" if short else open_text(lang, hit.open_state)
    if not short:
        return open_text(lang, hit.open_state)
    if hit.open_state.state in {"always", "open"}:
        return "🟢"
    return t(lang, "ux.opens_at", time=hit.open_state.at.strftime("%H:%M") if hit.open_state.at else "")


def lead_lines(lang: str, hit: PlaceHit, wanted: tuple[str, ...]) -> list[str]:
    """The nearest place, compact: name, distance and ride, open now, three amenities (or the gate policy)."""
    place = hit.place
    term = KIND_BY_TOKEN.get(place.kind)
    lines = [f"{term.icon if term else '📍'} {place.name}"]
    when = _open_or_policy(lang, hit)
    lines.append(
        " · ".join(
            x for x in (distance_text(lang, hit.distance_m), t(lang, "ux.ride_short", min=hit.ride_minutes), when) if x
        )
    )
    lines.extend(live_lines(lang, place, hit.checked_at))
    amenities = top_amenities(lang, place, wanted)
    policies = top_policies(lang, place)
    if place.kind in {"community", "hospital"}:  # a gate or a desk: how riders get in matters most
        lines.extend(x for x in (policies, amenities) if x)
    else:  # a station or a shop: what it offers, then (never repeated) what it promises riders
        lines.extend(x for x in (amenities, policies) if x)
    if place.phone:
        lines.append(t(lang, "place.phone", phone=place.phone))
    return lines


def short_line(lang: str, n: int, hit: PlaceHit) -> str:
    """One of the rest: number, name, distance, open now — the number button opens its card."""
    when = _open_or_policy(lang, hit, short=True)
    parts = [f"{n}. {hit.place.name}", distance_text(lang, hit.distance_m)]
    return " · ".join([*parts, when] if when else parts)


def hit_lines(lang: str, n: int, hit: PlaceHit) -> list[str]:
    """A numbered entry with everything (the CLI and the detail views)."""
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
    if not amenity:
        return ""
    labels = "+".join(amenity_label(lang, a) for a in amenity.split("+"))
    return t(lang, "nearest.filter", amenity=labels)


def coverage_text(lang: str, cities: tuple[str, ...]) -> str:
    sep = "、" if lang.startswith("zh") else ", "
    return t(lang, "ux.outside_coverage", cities=sep.join(cities) or "—")


def nearest_text(lang: str, answer: NearestAnswer) -> str:
    """The first answer leads with the nearest place, compact, then the rest on one line each: on a phone the
    rider sees the answer to "where do I go" without scrolling past four others."""
    scope = scope_text(lang, answer.scope)
    if answer.status == "empty":
        return t(lang, "nearest.empty")
    if answer.status == "outside_china":
        return t(lang, "nearest.outside_china", lat=answer.lat, lon=answer.lon)
    if answer.status == "outside_coverage":
        return coverage_text(lang, answer.cities)
    if answer.status == "no_more":
        return t(lang, "nearest.no_more")
    wanted = answer.amenities
    if answer.status == "none_nearby":
        head = t(
            lang,
            "nearest.none_nearby",
            radius=radius_text(lang, answer.radius_m),
            scope=scope,
            filter=filter_text(lang, answer.amenity),
        )
    elif answer.offset:
        head = t(lang, "nearest.header_page", scope=scope, page=answer.page) + filter_text(lang, answer.amenity)
    else:
        head = t(lang, "nearest.header", scope=scope) + filter_text(lang, answer.amenity)
    lines = [head]
    hits = list(enumerate(answer.hits, answer.offset + 1))
    if not answer.offset and hits:
        lines.extend(lead_lines(lang, hits[0][1], wanted))
        hits = hits[1:]
        if hits:
            lines.append(t(lang, "ux.farther"))
    lines.extend(short_line(lang, n, hit) for n, hit in hits)
    if any(h.place.approximate for h in answer.hits):
        lines.append(t(lang, "ux.approx_short"))
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
