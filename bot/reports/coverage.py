"""Where this deployment takes reports: within `coverage_km` of a configured grid (or, with no grids, of a place).

Seoul, Bangkok or Mumbai are not "the nearest street queue, 800 km away": a report there reaches nobody who can
act on it, so every door refuses it — Open311 with a 400 that says so, the chat politely.
"""

from __future__ import annotations

import math
from typing import Any

from bot.geo.coords import out_of_china


def covers(grids: Any, places_cover: Any, lat: float, lon: float, coverage_m: float) -> bool:
    """True when a report at (lat, lon) has someone to go to. `places_cover(lat, lon)` answers when there are no
    grids (the finder's own coverage)."""
    if out_of_china(lat, lon) or not (math.isfinite(lat) and math.isfinite(lon)):
        return False
    if grids is None or not grids.grids():
        return bool(places_cover(lat, lon))
    route = grids.route(lat, lon, coverage_m)
    return route.how in ("inside", "nearest") or (route.how == "street" and route.distance_m <= coverage_m)
