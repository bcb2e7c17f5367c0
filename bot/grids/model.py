"""The grid records shared by the CSV reader, the store and the index.

Two shapes on purpose: `GridRow` carries the shapely polygon between file, database and index; `Grid` is what the
rest of the bot sees (who owns a point, which chat it routes to) and carries no geometry, so callers never come to
depend on shapely.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.grids.geometry import GridShape, to_geojson

LEVELS = ("street", "community", "grid")
"""Top to bottom: 街道/乡镇 → 社区/村 → 网格 (the migration's CHECK constraint holds the same three)."""

PARENT_LEVEL = {"community": "street", "grid": "community"}
"""The one level a parent must have: a grid hangs under a community, a community under a street."""


@dataclass(frozen=True)
class Grid:
    id: str
    name: str
    level: str  # one of LEVELS
    parent_id: str  # '' for a street
    city: str = ""
    group_chat: str = ""  # '' or the chat id this grid's reports go to


@dataclass(frozen=True)
class GridRow:
    """One grid with its polygon in WGS-84, as parsed from a file or loaded from the database."""

    id: str
    name: str
    level: str
    parent_id: str
    city: str
    group_chat: str
    geometry: GridShape

    @property
    def grid(self) -> Grid:
        return Grid(self.id, self.name, self.level, self.parent_id, self.city, self.group_chat)

    @property
    def geojson(self) -> str:
        return to_geojson(self.geometry)
