"""Exact nearest-k places on the sphere, built once per data load and queried per message.

Points live in a k-d tree as 3-D unit vectors. Straight-line (chord) distance between unit
vectors is a monotonic function of great-circle distance, so the tree's ranking is the
great-circle ranking: no planar approximation, no trouble at the poles or the antimeridian.

Results must be reproducible and pageable ("next 5"), so the ranking is total: by distance,
then by position in the input. The tree knows nothing about that tie-break, so a query asks for
one more neighbour than it needs and widens until the boundary is unambiguous.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy.spatial import cKDTree

__all__ = ["EARTH_RADIUS_M", "SpatialIndex", "great_circle_m"]

EARTH_RADIUS_M = 6371009.0
"""geopy's `great_circle` radius (the IUGG mean radius), so our metres agree with geopy's."""

# Two chords closer than this (unit-sphere units, ~6 mm at short range) are treated as a
# possible tie: float noise in the chord is ~1e-15, so this is a wide safety margin, and widening
# a query costs one more tree lookup. Near the antipode the chord is flat in the angle, so the
# same margin covers a few hundred metres there, which is still cheap.
_TIE_TOL = 1e-9
# Above this chord (~90°) 2·asin(c/2) loses precision; switch to the supplementary form.
_FAR_CHORD = 1.4


def great_circle_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle metres, by the same atan2 formula geopy uses, so the two agree to the ulp
    while costing a microsecond instead of geopy's object construction."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dlon = math.radians(lon2) - math.radians(lon1)
    s1, c1 = math.sin(phi1), math.cos(phi1)
    s2, c2 = math.sin(phi2), math.cos(phi2)
    cd, sd = math.cos(dlon), math.sin(dlon)
    y = math.sqrt((c2 * sd) ** 2 + (c1 * s2 - s1 * c2 * cd) ** 2)
    x = s1 * s2 + c1 * c2 * cd
    return EARTH_RADIUS_M * math.atan2(y, x)


def _unit_vectors(lats: np.ndarray, lons: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lats), np.radians(lons)
    cphi = np.cos(phi)
    return np.column_stack((cphi * np.cos(lam), cphi * np.sin(lam), np.sin(phi)))


class SpatialIndex:
    """Immutable; rebuild it when the places change (a 1M-point build takes under a second)."""

    __slots__ = ("_n", "_tree", "_xyz")

    def __init__(self, lats: Sequence[float] | np.ndarray, lons: Sequence[float] | np.ndarray) -> None:
        la = np.asarray(lats, dtype=np.float64)
        lo = np.asarray(lons, dtype=np.float64)
        if la.ndim != 1 or lo.shape != la.shape:
            raise ValueError(f"lats and lons must be 1-D and equally long, got {la.shape} and {lo.shape}")
        if not (np.all(np.isfinite(lo)) and np.all(np.abs(la) <= 90.0)):
            raise ValueError("latitudes must lie in [-90, 90] and longitudes must be finite")
        self._n = int(la.shape[0])
        self._xyz = _unit_vectors(la, lo)
        self._tree = cKDTree(self._xyz) if self._n else None

    def __len__(self) -> int:
        return self._n

    def nearest(
        self,
        lat: float,
        lon: float,
        k: int,
        *,
        offset: int = 0,
        max_distance_m: float | None = None,
    ) -> list[tuple[int, float]]:
        """Items [offset, offset + k) of all points ranked by (great-circle metres, position),
        keeping only those within `max_distance_m` when given. Each item is (position, metres).

        Filtering and slicing commute because the ranking is by distance, so "page 2 of what is
        within 3 km" is simply `offset=5, k=5, max_distance_m=3000`.
        """
        if k < 0 or offset < 0:
            raise ValueError("k and offset must be non-negative")
        if not -90.0 <= lat <= 90.0 or not math.isfinite(lon):
            raise ValueError(f"bad query point ({lat}, {lon})")
        n = self._n
        if k == 0 or offset >= n or self._tree is None:
            return []
        bound = math.inf
        if max_distance_m is not None:
            if not max_distance_m >= 0.0:
                return []
            theta = max_distance_m / EARTH_RADIUS_M
            if theta < math.pi:
                bound = 2.0 * math.sin(theta / 2.0) + _TIE_TOL

        need = offset + k
        phi, lam = math.radians(lat), math.radians(lon)
        cphi = math.cos(phi)
        q = np.array((cphi * math.cos(lam), cphi * math.sin(lam), math.sin(phi)))

        m = min(need + 1, n)
        while True:
            chord, pos = self._tree.query(q, k=m, distance_upper_bound=bound)
            if m == 1:
                chord, pos = np.array([chord]), np.array([pos])
            last = float(chord[-1])
            if last == math.inf:  # everything within the bound is here
                cnt = int(np.searchsorted(chord, math.inf))
                chord, pos = chord[:cnt], pos[:cnt]
                break
            if m == n or last > float(chord[need - 1]) + _TIE_TOL:
                break
            m = min(2 * m, n)
        if not len(pos):
            return []

        theta = 2.0 * np.arcsin(np.minimum(chord, 2.0) * 0.5)
        if float(chord[-1]) > _FAR_CHORD:
            far = chord > _FAR_CHORD
            s = np.linalg.norm(self._xyz[pos[far]] + q, axis=1)
            theta[far] = math.pi - 2.0 * np.arcsin(s * 0.5)
        dist = theta * EARTH_RADIUS_M

        order = np.lexsort((pos, dist))
        dist, pos = dist[order], pos[order]
        stop = need
        if max_distance_m is not None:
            stop = min(stop, int(np.searchsorted(dist, max_distance_m, side="right")))
        return list(zip(pos[offset:stop].tolist(), dist[offset:stop].tolist(), strict=True))
