"""Grids in SQLite: the durable copy from which the in-memory `GridIndex` is built at start and on reload."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from bot.grids.geometry import from_geojson
from bot.grids.model import LEVELS, GridRow
from bot.store import catalog
from bot.store.db import Database

_COLUMNS = "id, name, level, parent_id, city, geometry, group_chat, updated_at"


async def upsert_grids(db: Database, grids: Sequence[GridRow]) -> tuple[int, int]:
    """All-or-nothing upsert by id in one transaction; returns (inserted, updated).

    Rows are written parents first (street, community, grid) because `parent_id` is a foreign key checked
    row by row. Re-importing the same file rewrites the same values, so it is idempotent.
    """
    now = datetime.now(UTC).isoformat(timespec="seconds")
    ordered = sorted(grids, key=lambda g: (LEVELS.index(g.level), g.id))
    inserted = updated = 0
    async with db.transaction() as conn:
        existing = {r[0] for r in await (await conn.execute("SELECT id FROM grids")).fetchall()}
        for grid in ordered:
            if grid.id in existing:
                updated += 1
            else:
                inserted += 1
                existing.add(grid.id)
        await conn.executemany(
            f"INSERT INTO grids ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
            " ON CONFLICT(id) DO UPDATE SET name=excluded.name, level=excluded.level,"
            " parent_id=excluded.parent_id, city=excluded.city, geometry=excluded.geometry,"
            " group_chat=excluded.group_chat, updated_at=excluded.updated_at",
            [(g.id, g.name, g.level, g.parent_id or None, g.city, g.geojson, g.group_chat, now) for g in ordered],
        )
        await catalog.changed(conn, "grids")  # every process rebuilds its grid index once this commits
    return inserted, updated


async def load_grids(db: Database) -> list[GridRow]:
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM grids ORDER BY id")
    return [
        GridRow(
            id=r["id"],
            name=r["name"],
            level=r["level"],
            parent_id=r["parent_id"] or "",
            city=r["city"],
            group_chat=r["group_chat"],
            geometry=from_geojson(r["geometry"]),
        )
        for r in rows
    ]


async def count_grids(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM grids")
    return int(row["n"]) if row else 0
