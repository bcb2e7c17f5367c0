"""Which grid owns a point: the in-memory index the bot asks for every located report.

"One grid, one worker" (一格一员) only works if every report lands somewhere. The rule, in order:

1. **inside** — a level-'grid' polygon covers the point (its boundary included, so a point on a shared edge is
   never orphaned; between two such grids the lower id wins, so the answer is reproducible);
2. **nearest** — otherwise the nearest level-'grid' polygon within `max_distance_m` metres on the ground: GPS
   drifts tens of metres, grid maps leave slivers along roads and rivers, and a report from the road just outside
   a compound belongs to that compound's worker;
3. **street** — otherwise nobody's grid is close: the street (街道) covering the point, or failing that the
   nearest street, so that its supervisors' queue sees it instead of no one;
4. **none** — there are no grids at all.

Each level has its own shapely `STRtree`, so a lookup is a tree query over a handful of candidates, never a scan
of a city's ten thousand polygons. Distances are measured on the ground: candidates are projected locally
(equirectangular around the query point, exact to well under a metre at these distances) to find their nearest
point, and the metres are the great-circle distance to it, the same metres as the place finder's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Point, box
from shapely.ops import nearest_points
from shapely.strtree import STRtree

from bot.geo.index import EARTH_RADIUS_M, great_circle_m
from bot.grids.geometry import GridShape
from bot.grids.model import LEVELS, Grid, GridRow

__all__ = ["DEFAULT_MAX_DISTANCE_M", "Grid", "GridIndex", "GridRoute"]

DEFAULT_MAX_DISTANCE_M = 300.0
"""How far outside every grid a point may be and still go to the nearest grid's worker: a few GPS errors, or the
width of the road in front of a compound gate."""

# The candidate box is widened by this factor over the spherical bound, to absorb the local projection's error.
_BOX_SLACK = 1.05
_TIE_M = 1e-6


@dataclass(frozen=True)
class GridRoute:
    """Where a report at a point goes. `how` is "inside", "nearest", "street" or "none"; `distance_m` is 0 when
    the point is inside the chosen polygon and infinite when there is nothing to route to."""

    how: str
    grid: Grid | None
    community: Grid | None
    street: Grid | None
    distance_m: float


class _Level:
    """One level's polygons in id order, with their tree; positions double as the id tie-break."""

    __slots__ = ("grids", "shapes", "tree")

    def __init__(self, rows: list[GridRow]) -> None:
        self.grids = [r.grid for r in rows]
        self.shapes: list[GridShape] = [r.geometry for r in rows]
        self.tree = STRtree(self.shapes)

    def covering(self, point: Point) -> int | None:
        hits = self.tree.query(point, predicate="intersects")
        return int(hits.min()) if len(hits) else None

    def nearest(self, lat: float, lon: float, max_distance_m: float | None) -> tuple[int, float] | None:
        """(position, metres) of the nearest polygon, ties by id; only within `max_distance_m` when given."""
        if max_distance_m is None or math.isinf(max_distance_m):
            # The planar-nearest polygon bounds the answer: nothing farther than it on the ground can win.
            first = self.tree.query_nearest(Point(lon, lat))
            if not len(first):
                return None
            max_distance_m = ground_distance_m(self.shapes[int(first.min())], lat, lon)
        candidates = self.tree.query(_search_box(lat, lon, max_distance_m), predicate="intersects")
        found = [(ground_distance_m(self.shapes[int(p)], lat, lon), int(p)) for p in candidates]
        found = [(metres, pos) for metres, pos in found if metres <= max_distance_m]
        if not found:
            return None
        # Equal distances computed along different paths can differ in the last bits; within a micrometre they
        # are a tie, and ties go to the lower id so that the same point always reaches the same worker.
        least = min(metres for metres, _ in found)
        metres, pos = min((pos, metres) for metres, pos in found if metres <= least + _TIE_M)[::-1]
        return pos, metres


def _search_box(lat: float, lon: float, metres: float) -> shapely.Polygon:
    """A lon/lat box holding every point within `metres` of (lat, lon) on the sphere, with some slack."""
    dlat = math.degrees(metres / EARTH_RADIUS_M) * _BOX_SLACK + 1e-9
    widest = min(abs(lat) + dlat, 89.9)
    dlon = min(dlat / math.cos(math.radians(widest)), 180.0)
    return box(lon - dlon, lat - dlat, lon + dlon, lat + dlat)


def ground_distance_m(shape: GridShape, lat: float, lon: float) -> float:
    """Metres from (lat, lon) to the nearest point of `shape` (0 inside it).

    The nearest point is found in a local equirectangular frame (longitudes shrunk by cos(lat)), which is where
    "nearest" means nearest on the ground; plain lon/lat degrees would favour polygons to the east and west.
    """
    k = math.cos(math.radians(lat))

    def to_local(coords: np.ndarray) -> np.ndarray:
        return np.column_stack(((coords[:, 0] - lon) * k, coords[:, 1] - lat))

    local = shapely.transform(shape, to_local)
    near, _ = nearest_points(local, Point(0.0, 0.0))
    if near.x == 0.0 and near.y == 0.0:
        return 0.0
    return great_circle_m(lat, lon, lat + near.y, lon + near.x / k)


class GridIndex:
    """Immutable; build a new one when the grids change (`Services.reload_grids`)."""

    def __init__(self, rows: Iterable[GridRow] = ()) -> None:
        ordered = sorted(rows, key=lambda r: r.id)
        self._by_id: dict[str, Grid] = {r.id: r.grid for r in ordered}
        self._children: dict[str, list[Grid]] = {}
        for r in ordered:
            if r.parent_id:
                self._children.setdefault(r.parent_id, []).append(r.grid)
        self._levels: dict[str, _Level] = {}
        for level in LEVELS:
            members = [r for r in ordered if r.level == level]
            if members:
                self._levels[level] = _Level(members)

    def __len__(self) -> int:
        return len(self._by_id)

    def grids(self, level: str | None = None) -> list[Grid]:
        """Every grid (or every one of a level), by id."""
        return [g for g in self._by_id.values() if level is None or g.level == level]

    def get(self, grid_id: str) -> Grid | None:
        return self._by_id.get(grid_id)

    def children(self, grid_id: str) -> list[Grid]:
        """The grids directly under `grid_id`, by id."""
        return list(self._children.get(grid_id, ()))

    def ancestors(self, grid_id: str) -> list[Grid]:
        """Parent first, then grandparent: for a grid, [community, street]. Stops at a parent we do not have."""
        out: list[Grid] = []
        seen = {grid_id}
        grid = self._by_id.get(grid_id)
        while grid is not None and grid.parent_id and grid.parent_id not in seen:
            seen.add(grid.parent_id)
            grid = self._by_id.get(grid.parent_id)
            if grid is not None:
                out.append(grid)
        return out

    def locate(self, lat: float, lon: float) -> dict[str, Grid]:
        """The grid, community and street whose polygons cover the point, by level (levels with none are absent)."""
        point = _point(lat, lon)
        found = {}
        for level, members in self._levels.items():
            pos = members.covering(point)
            if pos is not None:
                found[level] = members.grids[pos]
        return found

    def route(self, lat: float, lon: float, max_distance_m: float = DEFAULT_MAX_DISTANCE_M) -> GridRoute:
        """Who gets a report made at (lat, lon), WGS-84: see the module docstring for the rule."""
        point = _point(lat, lon)
        if math.isnan(max_distance_m):
            raise ValueError("max_distance_m is NaN")
        grids = self._levels.get("grid")
        if grids is not None:
            pos = grids.covering(point)
            if pos is not None:
                return self._from_grid("inside", grids.grids[pos], 0.0)
            if max_distance_m >= 0.0:
                hit = grids.nearest(lat, lon, max_distance_m)
                if hit is not None:
                    return self._from_grid("nearest", grids.grids[hit[0]], hit[1])
        streets = self._levels.get("street")
        if streets is not None:
            pos = streets.covering(point)
            distance = 0.0
            if pos is None:
                hit = streets.nearest(lat, lon, None)
                if hit is not None:
                    pos, distance = hit
            if pos is not None:
                street = streets.grids[pos]
                return GridRoute("street", None, self._community_in(point, street), street, distance)
        return GridRoute("none", None, None, None, math.inf)

    def _from_grid(self, how: str, grid: Grid, distance_m: float) -> GridRoute:
        above = {g.level: g for g in self.ancestors(grid.id)}
        return GridRoute(how, grid, above.get("community"), above.get("street"), distance_m)

    def _community_in(self, point: Point, street: Grid) -> Grid | None:
        # A street-level route still names the community when the point lies in one of this street's communities
        # (a community whose grids do not cover it all): its office is closer to the ground than the street's.
        communities = self._levels.get("community")
        if communities is None:
            return None
        for pos in sorted(int(p) for p in communities.tree.query(point, predicate="intersects")):
            if communities.grids[pos].parent_id == street.id:
                return communities.grids[pos]
        return None


def _point(lat: float, lon: float) -> Point:
    if not (math.isfinite(lat) and math.isfinite(lon) and -90.0 <= lat <= 90.0):
        raise ValueError(f"bad point ({lat}, {lon})")
    return Point(lon, lat)
