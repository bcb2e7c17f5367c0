"""Importing grid lists: validate the whole file against itself and the database, write all or nothing, rebuild
the index. Mirrors `places_admin`, so both lists behave the same for the staff who maintain them."""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.config import PROJECT_ROOT, Settings
from bot.geo.coords import CRS
from bot.grids.csv_io import read_grids_file
from bot.grids.index import GridIndex
from bot.grids.model import GridRow
from bot.places.csv_io import ImportReport, ParseResult
from bot.store.db import Database
from bot.store.grids import count_grids, load_grids, upsert_grids

DEFAULT_GRIDS_CSV = PROJECT_ROOT / "data" / "grids.csv"
"""The bundled sample grids (illustrative boundaries), loaded into an empty database like data/stations.csv."""


def grids_csv_path(settings: Settings) -> Path:
    """`grids_csv` in the config file (kept in `settings.extra`, no dedicated setting yet), else the sample."""
    configured = settings.extra.get("grids_csv")
    return Path(configured) if configured else DEFAULT_GRIDS_CSV


async def validate_grids(
    db: Database | None, path: str | Path, default_crs: CRS | str = CRS.WGS84
) -> ParseResult[GridRow]:
    """Check a file without writing; parents may already be in `db` (when given)."""
    existing = await load_grids(db) if db is not None else []
    # Polygon validation is CPU work (shapely, coordinate iteration): keep it off the event loop.
    return await asyncio.to_thread(read_grids_file, path, default_crs, existing)


async def import_grids(db: Database, path: str | Path, default_crs: CRS | str = CRS.WGS84) -> ImportReport[GridRow]:
    """Validate everything, then upsert every row in one transaction; a single bad row writes nothing."""
    parsed = await validate_grids(db, path, default_crs)
    if not parsed.ok:
        return ImportReport[GridRow](parsed)
    inserted, updated = await upsert_grids(db, parsed.items)
    return ImportReport[GridRow](parsed, inserted, updated, await count_grids(db))


async def ensure_grids_seeded(db: Database, path: Path = DEFAULT_GRIDS_CSV) -> ImportReport[GridRow] | None:
    """First start on an empty grids table: load the bundled sample so routing works at once."""
    if await count_grids(db) or not await asyncio.to_thread(path.exists):
        return None
    return await import_grids(db, path)


async def build_grid_index(db: Database) -> GridIndex:
    rows = await load_grids(db)
    return await asyncio.to_thread(GridIndex, rows)
