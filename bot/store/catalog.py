"""Versions of the place catalogue and the grids, so that every process keeps its in-memory index current.

Each process answers from memory (bot/places/catalog.py, bot/grids/index.py): no database round trip per chat
message. A change — an import by any process or by the CLI, a keeper's word on a station — bumps the version in
the writer's own transaction (`changed`), so it is visible exactly when the change is. A process that loaded an
older version reloads (bot/services/catalog_sync.py). On PostgreSQL `changed` also sends a NOTIFY, which the
server delivers to every listening process at commit (and never for a rollback); `listen` keeps a dedicated
connection LISTENing. The version check stays the fallback for a notification missed while a listener was
reconnecting.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.store.db import Connection, Database

CHANNEL = "rider_catalog"
NAMES = ("places", "grids")


async def changed(conn: Connection, name: str) -> None:
    """Inside the writer's transaction: this part of the catalogue changed."""
    if name not in NAMES:
        raise ValueError(f"not a catalogue: {name!r}")
    await conn.execute("UPDATE catalog_versions SET version = version + 1 WHERE name = ?", (name,))
    if getattr(conn, "dialect", "sqlite") == "postgresql":
        await conn.execute("SELECT pg_notify(?, ?)", (CHANNEL, name))


async def versions(db: Database) -> dict[str, int]:
    return {r[0]: int(r[1]) for r in await db.fetchall("SELECT name, version FROM catalog_versions")}


def listen(db: Database, on_notify: Callable[[str], None], on_connect: Callable[[], None]) -> Any:
    """On PostgreSQL: a started `Listener` (stop it with `await listener.stop()`); on SQLite None — one process,
    and the CLI's imports are found by the version check."""
    if db.dialect != "postgresql":
        return None
    from bot.store.pg_listen import Listener

    listener = Listener(db.url, CHANNEL, on_notify, on_connect)  # type: ignore[attr-defined]
    listener.start()
    return listener
