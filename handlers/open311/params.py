"""Strict readers for query and form values: anything we do not understand is a 400, never a guess.

Python's `int()` and `float()` accept more than a URL should carry (``٣``, ``1_000``, ``nan``, ``inf``), so
numbers are matched against plain ASCII patterns first, and every range is checked before a value reaches SQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta, tzinfo

from bot.reports import export as ex
from bot.reports.categories import CATEGORY_BY_TOKEN
from bot.reports.model import parse_ref
from handlers.open311.formats import ApiError

_INT = re.compile(r"^[0-9]{1,9}$")
_FLOAT = re.compile(r"^[+-]?(?:[0-9]{1,4}(?:\.[0-9]{0,15})?|\.[0-9]{1,15})$")
MAX_IDS = 200


def echo(value: str, limit: int = 40) -> str:
    """A client's value quoted back in an error: short, and on one line."""
    short = " ".join(value.split())[:limit]
    return repr(short + ("…" if len(value) > limit else ""))


def integer(params: Mapping[str, str], name: str, default: int, low: int, high: int) -> int:
    text = params.get(name)
    if text is None or text == "":
        return default
    if not _INT.match(text) or not low <= int(text) <= high:
        raise ApiError(400, f"{name} must be a whole number from {low} to {high}")
    return int(text)


def number(text: str, name: str, low: float, high: float) -> float:
    value = text.strip()
    if not _FLOAT.match(value):
        raise ApiError(400, f"{name} must be a decimal number, got {echo(text)}")
    result = float(value)
    if not math.isfinite(result) or not low <= result <= high:
        raise ApiError(400, f"{name} must be between {low:g} and {high:g}")
    return result


def words(text: str | None) -> list[str]:
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def service_codes(text: str | None) -> tuple[str, ...]:
    codes = words(text)
    unknown = [code for code in codes if code not in CATEGORY_BY_TOKEN]
    if unknown:
        raise ApiError(400, f"unknown service_code {echo(unknown[0])}; see services.json")
    return tuple(codes)


def request_id(text: str) -> int | None:
    """Our ref (``SP-000123``, ``sp123``) or the plain number; None when it cannot be one."""
    value = text.strip()
    if _INT.match(value):
        return int(value)
    return parse_ref(value) if len(value) <= 20 and value.isascii() else None


def request_ids(text: str) -> tuple[int, ...]:
    parts = words(text)
    if len(parts) > MAX_IDS:
        raise ApiError(400, f"at most {MAX_IDS} service_request_id values at once")
    ids = []
    for part in parts:
        found = request_id(part)
        if found is None:
            raise ApiError(400, f"service_request_id {echo(part)} is not one of ours (SP-000123 or 123)")
        ids.append(found)
    return tuple(dict.fromkeys(ids))


def moment(params: Mapping[str, str], name: str, tz: tzinfo, *, end: bool = False) -> datetime | None:
    text = params.get(name)
    if text is None or text.strip() == "":
        return None
    try:
        value = ex.parse_moment(text, tz, end=end)
        if end and len(text.strip()) > 10:
            value += timedelta(milliseconds=1)  # end_date is inclusive; our filter's upper bound is not
        value.astimezone(UTC)  # out of range once an offset is applied: OverflowError here, not in SQL
    except (ValueError, OverflowError) as exc:
        raise ApiError(400, f"{name} must be an ISO 8601 date-time, e.g. 2026-11-26T08:00:00+08:00") from exc
    return value


def bbox(text: str | None) -> tuple[float, float, float, float] | None:
    if text is None or text.strip() == "":
        return None
    parts = text.split(",")
    if len(parts) != 4:
        raise ApiError(400, "bbox must be min_lon,min_lat,max_lon,max_lat (WGS-84)")
    min_lon, max_lon = (number(parts[i], "bbox longitude", -180, 180) for i in (0, 2))
    min_lat, max_lat = (number(parts[i], "bbox latitude", -90, 90) for i in (1, 3))
    if min_lon > max_lon or min_lat > max_lat:
        raise ApiError(400, "bbox must be min_lon,min_lat,max_lon,max_lat with min ≤ max")
    return min_lon, min_lat, max_lon, max_lat
