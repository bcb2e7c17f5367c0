"""Station keepers' data in SQLite: the live word on a place, its audit trail, riders' flags and suggestions.

Reads may use the `Database`; writes take the connection of the caller's `Database.transaction()`, so a change,
its audit row and its outbox notices commit together — and the catalogue's version with them (bot/store/catalog.py),
so every process's in-memory list shows a keeper's word.
"""

from __future__ import annotations

from dataclasses import dataclass

from bot.store import catalog
from bot.store.db import Connection, Database, Row


async def place_name(db: Database, place_id: str) -> str | None:
    row = await db.fetchone("SELECT name FROM places WHERE id = ?", (place_id,))
    return row["name"] if row else None


async def place_fields(conn: Connection, place_id: str) -> dict[str, str] | None:
    """The columns a keeper may change, as stored (for the audit's old value)."""
    async with conn.execute(
        "SELECT p.hours, p.amenities, p.phone, COALESCE(l.status, 'open') AS status, COALESCE(l.note, '') AS note,"
        " COALESCE(l.until, '') AS until, COALESCE(l.photo, '') AS photo"
        " FROM places p LEFT JOIN place_live l ON l.place_id = p.id WHERE p.id = ?",
        (place_id,),
    ) as cur:
        row = await cur.fetchone()
    return dict(row) if row else None


async def audit(conn: Connection, place_id: str, actor_id: int | None, field: str, old: str, new: str, at: str) -> None:
    await conn.execute(
        "INSERT INTO place_audit (place_id, actor_id, field, old, new, at) VALUES (?, ?, ?, ?, ?, ?)",
        (place_id, actor_id, field, old, new, at),
    )


async def ensure_live(conn: Connection, place_id: str) -> None:
    await conn.execute("INSERT INTO place_live (place_id) VALUES (?) ON CONFLICT(place_id) DO NOTHING", (place_id,))


async def set_live(conn: Connection, place_id: str, at: str, actor_id: int, **values: object) -> None:
    """Change live columns (status, note, until, photo) and mark the place updated and confirmed by a keeper."""
    allowed = {"status", "note", "until", "photo"}
    if not set(values) <= allowed:
        raise ValueError(f"not live columns: {sorted(set(values) - allowed)}")
    await ensure_live(conn, place_id)
    sets = "".join(f"{name} = ?, " for name in values)
    await conn.execute(
        f"UPDATE place_live SET {sets}updated_at = ?, updated_by = ?, confirmed_at = ?, confirmed_by = 'keeper',"
        " disputed_at = NULL WHERE place_id = ?",
        (*values.values(), at, actor_id, at, place_id),
    )
    await catalog.changed(conn, "places")


async def set_place_column(conn: Connection, place_id: str, column: str, value: str) -> None:
    if column not in {"hours", "amenities", "phone"}:
        raise ValueError(f"keepers cannot change {column!r}")
    await conn.execute(f"UPDATE places SET {column} = ? WHERE id = ?", (value, place_id))
    await catalog.changed(conn, "places")


async def confirm(conn: Connection, place_id: str, at: str, by: str) -> None:
    """The data is right as it stands (a keeper's or admin's word): last-confirmed now, no longer disputed."""
    await ensure_live(conn, place_id)
    await conn.execute(
        "UPDATE place_live SET confirmed_at = ?, confirmed_by = ?, disputed_at = NULL WHERE place_id = ?",
        (at, by, place_id),
    )
    await catalog.changed(conn, "places")


async def mark_disputed(conn: Connection, place_id: str, at: str) -> bool:
    """True if this call made the place 待核实 (it was not already)."""
    await ensure_live(conn, place_id)
    cur = await conn.execute(
        "UPDATE place_live SET disputed_at = ? WHERE place_id = ? AND disputed_at IS NULL", (at, place_id)
    )
    if cur.rowcount != 1:
        return False
    await catalog.changed(conn, "places")
    return True


@dataclass(frozen=True)
class StaleRow:
    place_id: str
    name: str
    kind: str
    lat: float
    lon: float
    confirmed_at: str
    confirmed_by: str


async def stale_places(db: Database, before: str) -> list[StaleRow]:
    """Places whose last confirmation (keeper, admin, or the import that wrote them) is older than `before`."""
    rows = await db.fetchall(
        "SELECT p.id, p.name, p.kind, p.lat, p.lon, MAX(p.updated_at, COALESCE(l.confirmed_at, '')) AS confirmed_at,"
        " CASE WHEN COALESCE(l.confirmed_at, '') > p.updated_at THEN l.confirmed_by ELSE 'import' END AS by"
        " FROM places p LEFT JOIN place_live l ON l.place_id = p.id"
        " WHERE MAX(p.updated_at, COALESCE(l.confirmed_at, '')) < ? ORDER BY confirmed_at, p.id",
        (before,),
    )
    return [StaleRow(r["id"], r["name"], r["kind"], r["lat"], r["lon"], r["confirmed_at"], r["by"]) for r in rows]


async def refusals_since(db: Database, actor_id: int, since: str) -> int:
    """How many /redeem codes this keeper tried that nobody had issued, since `since` (the guessing limit)."""
    row = await db.fetchone(
        "SELECT COUNT(*) FROM place_audit WHERE actor_id = ? AND field = 'redeem_refused'"
        " AND new = 'redeem.unknown' AND at > ?",
        (actor_id, since),
    )
    return int(row[0]) if row else 0


async def audit_rows(db: Database, place_id: str, limit: int = 50) -> list[Row]:
    return await db.fetchall(
        "SELECT actor_id, field, old, new, at FROM place_audit WHERE place_id = ? ORDER BY id DESC LIMIT ?",
        (place_id, limit),
    )


# --- riders' corrections ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Flag:
    id: int
    place_id: str
    user_id: int
    reason: str
    note: str
    photo: str
    state: str
    created_at: str


async def insert_flag(
    conn: Connection, place_id: str, user_id: int, reason: str, note: str, photo: str, at: str
) -> int:
    cur = await conn.execute(
        "INSERT INTO place_flags (place_id, user_id, reason, note, photo, state, created_at)"
        " VALUES (?, ?, ?, ?, ?, 'open', ?)",
        (place_id, user_id, reason, note, photo, at),
    )
    return int(cur.lastrowid or 0)


async def flag(conn: Connection, flag_id: int) -> Flag | None:
    async with conn.execute(
        "SELECT id, place_id, user_id, reason, note, photo, state, created_at FROM place_flags WHERE id = ?",
        (flag_id,),
    ) as cur:
        row = await cur.fetchone()
    return Flag(*row) if row else None


async def resolve_flag(conn: Connection, flag_id: int, state: str, by: int, at: str) -> bool:
    """Confirm or reject an open flag; True only for the one call that did (two taps: one wins)."""
    cur = await conn.execute(
        "UPDATE place_flags SET state = ?, resolved_by = ?, resolved_at = ? WHERE id = ? AND state = 'open'",
        (state, by, at, flag_id),
    )
    return cur.rowcount == 1


async def recent_flaggers(conn: Connection, place_id: str, since: str) -> set[int]:
    """Riders who flagged the place since `since` and after its last confirmation."""
    async with conn.execute(
        "SELECT DISTINCT f.user_id FROM place_flags f LEFT JOIN place_live l ON l.place_id = f.place_id"
        " WHERE f.place_id = ? AND f.state <> 'draft' AND f.created_at >= ?"
        " AND f.created_at > COALESCE(l.confirmed_at, '')",
        (place_id, since),
    ) as cur:
        return {row[0] for row in await cur.fetchall()}


# --- suggested places ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Suggestion:
    id: int
    user_id: int
    name: str
    kind: str
    lat: float
    lon: float
    photo: str
    state: str


async def insert_suggestion(
    conn: Connection, user_id: int, name: str, kind: str, lat: float, lon: float, photo: str, at: str
) -> int:
    cur = await conn.execute(
        "INSERT INTO place_suggestions (user_id, name, kind, lat, lon, photo, state, created_at)"
        " VALUES (?, ?, ?, ?, ?, ?, 'pending', ?)",
        (user_id, name, kind, lat, lon, photo, at),
    )
    return int(cur.lastrowid or 0)


async def suggestion(conn: Connection, suggestion_id: int) -> Suggestion | None:
    async with conn.execute(
        "SELECT id, user_id, name, kind, lat, lon, photo, state FROM place_suggestions WHERE id = ?",
        (suggestion_id,),
    ) as cur:
        row = await cur.fetchone()
    return Suggestion(*row) if row else None


async def decide_suggestion(
    conn: Connection, suggestion_id: int, state: str, by: int, at: str, place_id: str | None
) -> bool:
    """Approve or decline a pending suggestion; True only for the one call that did."""
    cur = await conn.execute(
        "UPDATE place_suggestions SET state = ?, decided_by = ?, decided_at = ?, place_id = ?"
        " WHERE id = ? AND state = 'pending'",
        (state, by, at, place_id, suggestion_id),
    )
    return cur.rowcount == 1


async def insert_suggested_place(conn: Connection, found: Suggestion, place_id: str, at: str) -> None:
    """The approved place, WGS-84 from the rider's phone, marked approximate until someone checks it."""
    await conn.execute(
        "INSERT INTO places (id, name, kind, lat, lon, src_crs, approximate, notes, updated_at)"
        " VALUES (?, ?, ?, ?, ?, 'wgs84', 1, ?, ?)",
        (place_id, found.name, found.kind, found.lat, found.lon, f"suggestion {found.id}", at),
    )
    await conn.execute(
        "INSERT INTO place_live (place_id, photo, confirmed_at, confirmed_by) VALUES (?, ?, ?, 'admin')",
        (place_id, found.photo, at),
    )
    await catalog.changed(conn, "places")
