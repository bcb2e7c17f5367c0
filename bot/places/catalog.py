"""All places in memory with their spatial indexes: the read side every nearest-k query goes through.

A filtered query ("stations with charging") gets an index of its own, built on first use and cached, so a
filter never turns the exact nearest-k into a scan of the whole list.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from bot.geo.index import SpatialIndex
from bot.places.model import Place

FilterKey = tuple[frozenset[str] | None, frozenset[str] | None]


class PlaceCatalog:
    def __init__(self, places: Iterable[Place]) -> None:
        # Sorted by id so that equal distances rank by id, the same order a brute-force scan gives.
        self.places: tuple[Place, ...] = tuple(sorted(places, key=lambda p: p.id))
        self._by_id = {p.id: p for p in self.places}
        self._lats = np.fromiter((p.lat for p in self.places), dtype=float, count=len(self.places))
        self._lons = np.fromiter((p.lon for p in self.places), dtype=float, count=len(self.places))
        self._indexes: dict[FilterKey, tuple[SpatialIndex, np.ndarray]] = {}
        self._index_for((None, None))

    def __len__(self) -> int:
        return len(self.places)

    def get(self, place_id: str) -> Place | None:
        return self._by_id.get(place_id)

    def _index_for(self, key: FilterKey) -> tuple[SpatialIndex, np.ndarray]:
        cached = self._indexes.get(key)
        if cached is None:
            kinds, amenities = key
            positions = np.array(
                [
                    i
                    for i, p in enumerate(self.places)
                    if (kinds is None or p.kind in kinds) and (amenities is None or amenities <= set(p.amenities))
                ],
                dtype=np.int64,
            )
            cached = (SpatialIndex(self._lats[positions], self._lons[positions]), positions)
            self._indexes[key] = cached
        return cached

    def nearest(
        self,
        lat: float,
        lon: float,
        k: int,
        *,
        kinds: Sequence[str] | frozenset[str] | None = None,
        amenity: str | Iterable[str] | None = None,
        offset: int = 0,
        max_distance_m: float | None = None,
    ) -> list[tuple[Place, float]]:
        """Exact k nearest (great-circle), nearest first, ties by id; `amenity` may be several (all required)."""
        wanted = frozenset([amenity] if isinstance(amenity, str) else amenity or ())
        key: FilterKey = (frozenset(kinds) if kinds else None, wanted or None)
        index, positions = self._index_for(key)
        found = index.nearest(lat, lon, k, offset=offset, max_distance_m=max_distance_m)
        return [(self.places[int(positions[i])], d) for i, d in found]
