"""Importing place lists: validate everything, then write all or nothing, then refresh the live catalogue."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from bot.geo.coords import CRS
from bot.places.catalog import PlaceCatalog
from bot.places.csv_io import ImportReport, read_places_file
from bot.places.model import Place
from bot.store.db import Database
from bot.store.places import count_places, load_places, upsert_places


async def import_places(
    db: Database,
    path: str | Path,
    default_crs: CRS | str = CRS.WGS84,
    progress: Callable[[int], None] | None = None,
) -> ImportReport[Place]:
    # Parsing a city-sized file is CPU work: keep it off the event loop.
    parsed = await asyncio.to_thread(read_places_file, path, default_crs)
    if not parsed.ok:
        return ImportReport(parsed)
    inserted, updated = await upsert_places(db, parsed.items, progress)
    return ImportReport(parsed, inserted, updated, await count_places(db))


async def ensure_seeded(db: Database, path: Path) -> ImportReport[Place] | None:
    """First start on an empty database: load the bundled sample list so the bot is useful at once."""
    if await count_places(db) or not await asyncio.to_thread(path.exists):
        return None
    return await import_places(db, path)


async def build_catalog(db: Database) -> PlaceCatalog:
    # Building the spatial index of a province's places is CPU work: off the event loop, so a reload after an
    # import does not stall every chat of the process.
    return await asyncio.to_thread(PlaceCatalog, await load_places(db))
