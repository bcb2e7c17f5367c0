"""China's three coordinate systems, and exact conversions between them.

Telegram phones report WGS-84. Amap, Tencent and WeChat work in GCJ-02 ("Mars coordinates"),
a deliberately obfuscated datum that is WGS-84 plus a smooth, nonlinear offset of a few hundred
metres. Baidu adds a second shift on top of GCJ-02 (BD-09). Treating one as another puts a rider
at the wrong gate, so every coordinate is converted to WGS-84 once, on the way in.

The forward transforms are the published ones; there is no closed-form inverse, so the inverses
iterate to a fixed point (the offsets vary slowly, so the iteration is a strong contraction) and
are accurate to well under a millimetre rather than the few metres of the usual one-step
"subtract the offset" approximation.

Outside China GCJ-02 is the identity (the obfuscation is only applied inside the classic
bounding rectangle, see `out_of_china`). BD-09 is defined as a shift of GCJ-02 and Baidu applies
it everywhere, so outside China ``wgs84_to_bd09`` is the BD shift alone (identity for GCJ-02,
then the 0.6–1 km BD shift), and ``bd09_to_wgs84`` undoes just that shift.

Every coordinate here is ordered (lat, lon), in degrees.
"""

from __future__ import annotations

import math
from enum import StrEnum

__all__ = [
    "CRS",
    "bd09_to_gcj02",
    "bd09_to_wgs84",
    "from_wgs84",
    "gcj02_to_bd09",
    "gcj02_to_wgs84",
    "out_of_china",
    "to_wgs84",
    "wgs84_to_bd09",
    "wgs84_to_gcj02",
]


class CRS(StrEnum):
    WGS84 = "wgs84"
    GCJ02 = "gcj02"
    BD09 = "bd09"


# Krasovsky 1940 ellipsoid, as used by the GCJ-02 algorithm (not WGS-84's).
_A = 6378245.0
_EE = 0.00669342162296594323
_X_PI = math.pi * 3000.0 / 180.0

# Inverse iteration: stop once a step moves less than this (degrees; ~1e-5 m), give up after
# _MAX_ITER steps. In practice it converges in 3–5 steps.
_TOL = 1e-10
_MAX_ITER = 50


def out_of_china(lat: float, lon: float) -> bool:
    """Whether GCJ-02 leaves the point alone.

    This is the rectangle every GCJ implementation uses, not the border: points in Mongolia or
    the Korean peninsula are "in China" by this test, and that is what Amap does too.
    """
    return not (72.004 <= lon <= 137.8347 and 0.8293 <= lat <= 55.8271)


def _transform_lat(x: float, y: float) -> float:
    ret = -100.0 + 2.0 * x + 3.0 * y + 0.2 * y * y + 0.1 * x * y + 0.2 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(y * math.pi) + 40.0 * math.sin(y / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (160.0 * math.sin(y / 12.0 * math.pi) + 320.0 * math.sin(y * math.pi / 30.0)) * 2.0 / 3.0
    return ret


def _transform_lon(x: float, y: float) -> float:
    ret = 300.0 + x + 2.0 * y + 0.1 * x * x + 0.1 * x * y + 0.1 * math.sqrt(abs(x))
    ret += (20.0 * math.sin(6.0 * x * math.pi) + 20.0 * math.sin(2.0 * x * math.pi)) * 2.0 / 3.0
    ret += (20.0 * math.sin(x * math.pi) + 40.0 * math.sin(x / 3.0 * math.pi)) * 2.0 / 3.0
    ret += (150.0 * math.sin(x / 12.0 * math.pi) + 300.0 * math.sin(x / 30.0 * math.pi)) * 2.0 / 3.0
    return ret


def _gcj_offset(lat: float, lon: float) -> tuple[float, float]:
    # The raw GCJ-02 offset, in degrees, with no out-of-China test.
    dlat = _transform_lat(lon - 105.0, lat - 35.0)
    dlon = _transform_lon(lon - 105.0, lat - 35.0)
    radlat = lat / 180.0 * math.pi
    magic = 1.0 - _EE * math.sin(radlat) ** 2
    sqrtmagic = math.sqrt(magic)
    dlat = (dlat * 180.0) / ((_A * (1.0 - _EE)) / (magic * sqrtmagic) * math.pi)
    dlon = (dlon * 180.0) / (_A / sqrtmagic * math.cos(radlat) * math.pi)
    return dlat, dlon


def wgs84_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """What Amap/Tencent/WeChat would show for a phone's GPS fix."""
    if out_of_china(lat, lon):
        return lat, lon
    dlat, dlon = _gcj_offset(lat, lon)
    return lat + dlat, lon + dlon


def gcj02_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """Invert GCJ-02 by fixed-point iteration: find w with w + offset(w) = g.

    The offset's Jacobian is ~1e-3, so each step gains about three digits. Whether the point is
    "in China" is decided on the GCJ input; within ~0.01° of the rectangle's edge the forward map
    is not one-to-one, and there the round trip is not guaranteed (nobody delivers there).
    """
    if out_of_china(lat, lon):
        return lat, lon
    wlat, wlon = lat, lon
    for _ in range(_MAX_ITER):
        dlat, dlon = _gcj_offset(wlat, wlon)
        nlat, nlon = lat - dlat, lon - dlon
        done = abs(nlat - wlat) < _TOL and abs(nlon - wlon) < _TOL
        wlat, wlon = nlat, nlon
        if done:
            break
    return wlat, wlon


def gcj02_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """What Baidu Maps would show for a GCJ-02 point. Baidu applies this everywhere."""
    z = math.sqrt(lon * lon + lat * lat) + 0.00002 * math.sin(lat * _X_PI)
    theta = math.atan2(lat, lon) + 0.000003 * math.cos(lon * _X_PI)
    return z * math.sin(theta) + 0.006, z * math.cos(theta) + 0.0065


def _bd09_to_gcj02_approx(lat: float, lon: float) -> tuple[float, float]:
    # The published one-step inverse; off by up to ~0.5 m, so only the starting point.
    x, y = lon - 0.0065, lat - 0.006
    z = math.sqrt(x * x + y * y) - 0.00002 * math.sin(y * _X_PI)
    theta = math.atan2(y, x) - 0.000003 * math.cos(x * _X_PI)
    return z * math.sin(theta), z * math.cos(theta)


def bd09_to_gcj02(lat: float, lon: float) -> tuple[float, float]:
    """Invert the BD-09 shift exactly: start from the published approximation, then iterate
    g <- g - (bd(g) - b), which converges because the shift is close to a translation."""
    glat, glon = _bd09_to_gcj02_approx(lat, lon)
    for _ in range(_MAX_ITER):
        blat, blon = gcj02_to_bd09(glat, glon)
        elat, elon = blat - lat, blon - lon
        glat, glon = glat - elat, glon - elon
        if abs(elat) < _TOL and abs(elon) < _TOL:
            break
    return glat, glon


def wgs84_to_bd09(lat: float, lon: float) -> tuple[float, float]:
    """What Baidu Maps would show for a phone's GPS fix (outside China: the BD shift alone)."""
    return gcj02_to_bd09(*wgs84_to_gcj02(lat, lon))


def bd09_to_wgs84(lat: float, lon: float) -> tuple[float, float]:
    """Where a Baidu-sourced point really is."""
    return gcj02_to_wgs84(*bd09_to_gcj02(lat, lon))


_TO_WGS84 = {
    CRS.WGS84: lambda lat, lon: (lat, lon),
    CRS.GCJ02: gcj02_to_wgs84,
    CRS.BD09: bd09_to_wgs84,
}
_FROM_WGS84 = {
    CRS.WGS84: lambda lat, lon: (lat, lon),
    CRS.GCJ02: wgs84_to_gcj02,
    CRS.BD09: wgs84_to_bd09,
}


def to_wgs84(lat: float, lon: float, crs: CRS | str) -> tuple[float, float]:
    """Normalise an imported point; `crs` may be the plain string from a data file.

    Raises ValueError for an unknown system rather than guessing, since a wrong guess is a
    silent 500 m error.
    """
    return _TO_WGS84[CRS(str(crs).lower())](float(lat), float(lon))


def from_wgs84(lat: float, lon: float, crs: CRS | str) -> tuple[float, float]:
    """Express a stored point in the system a map link or app expects."""
    return _FROM_WGS84[CRS(str(crs).lower())](float(lat), float(lon))
