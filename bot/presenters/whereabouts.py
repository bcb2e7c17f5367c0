"""A stored location described to its owner: where it was (the nearest place we know) and when."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.presenters.places import distance_text
from bot.reports.notices import span_text
from bot.services.finder import FinderService
from bot.store.users import User
from bot.texts import t


def where_text(lang: str, finder: FinderService, lat: float, lon: float) -> str:
    near = finder.catalog.nearest(lat, lon, 1)
    if near and near[0][1] <= 2000:
        place, metres = near[0]
        return t(lang, "ux.near_place", place=place.name, distance=distance_text(lang, metres))
    return f"{lat:.4f}, {lon:.4f}"


def stale_text(lang: str, finder: FinderService, user: User, age: timedelta, tz: ZoneInfo) -> str:
    """ "你上次的位置在米兰社区附近（09:12，2 小时前）": enough to decide "still here" or "share again"."""
    assert user.last_lat is not None and user.last_lon is not None and user.last_loc_at
    when = datetime.fromisoformat(user.last_loc_at).astimezone(tz).strftime("%H:%M")
    where = where_text(lang, finder, user.last_lat, user.last_lon)
    return t(lang, "ux.stale", where=where, time=when, ago=span_text(lang, age))
