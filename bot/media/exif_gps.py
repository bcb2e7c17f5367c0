"""Where a photo was taken, from its EXIF GPS block — used for the report's own location, never for display.

Split from bot/media/photos.py (the store): this is pure parsing of numbers a phone wrote, with every way they
can be unbelievable spelled out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from PIL import Image

_GPS_IFD = 0x8825
_GPS_LAT_REF, _GPS_LAT, _GPS_LON_REF, _GPS_LON, _GPS_STATUS, _GPS_MAP_DATUM = 1, 2, 3, 4, 9, 18


def gps_from_exif(exif: Image.Exif) -> tuple[float, float] | None:
    try:
        gps = exif.get_ifd(_GPS_IFD)
    except Exception:
        return None
    if not gps:
        return None
    if _ascii(gps.get(_GPS_STATUS)) == "V":  # "void": the receiver itself says this is no fix
        return None
    datum = _ascii(gps.get(_GPS_MAP_DATUM)).replace(" ", "").replace("-", "")
    if datum and datum != "WGS84":
        return None
    lat = _degrees(gps.get(_GPS_LAT), 90.0)
    lon = _degrees(gps.get(_GPS_LON), 180.0)
    lat_ref, lon_ref = _ascii(gps.get(_GPS_LAT_REF)), _ascii(gps.get(_GPS_LON_REF))
    if lat is None or lon is None or lat_ref not in ("N", "S") or lon_ref not in ("E", "W"):
        return None
    if lat == 0.0 and lon == 0.0:  # "null island": written by phones that had no fix yet
        return None
    return (-lat if lat_ref == "S" else lat, -lon if lon_ref == "W" else lon)


def _ascii(value: object) -> str:
    if isinstance(value, bytes):
        value = value.decode("ascii", "ignore")
    if not isinstance(value, str):
        return ""
    return value.strip("\x00 \t\r\n").upper()


def _degrees(value: object, limit: float) -> float | None:
    """EXIF writes degrees, minutes, seconds as three rationals; some writers send one or two parts."""
    parts: Sequence[Any] = value if isinstance(value, tuple | list) else (value,)
    if not 1 <= len(parts) <= 3:
        return None
    try:
        numbers = [float(p) for p in parts]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if not all(math.isfinite(n) and n >= 0 for n in numbers):
        return None
    if any(n >= 60 for n in numbers[1:]):
        return None
    total = sum(n / 60**i for i, n in enumerate(numbers))
    return total if total <= limit else None
