"""Places in SQLite: the durable copy from which the in-memory index is built at start."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from bot.places.hours import parse_hours
from bot.places.live import Live
from bot.places.model import Place
from bot.store import catalog
from bot.store.db import Database

_COLUMNS = (
    "id, name, kind, city, district, address, lat, lon, src_crs, hours, amenities, phone, rider_policy,"
    " route_map, aliases, approximate, notes, updated_at"
)


def _row(place: Place, now: str) -> tuple[object, ...]:
    return (
        place.id,
        place.name,
        place.kind,
        place.city,
        place.district,
        place.address,
        place.lat,
        place.lon,
        place.src_crs,
        str(place.hours),
        ";".join(sorted(place.amenities)),
        place.phone,
        ";".join(sorted(place.rider_policy)),
        place.route_map,
        ";".join(place.aliases),
        int(place.approximate),
        place.notes,
        now,
    )


async def upsert_places(
    db: Database, places: Sequence[Place], progress: Callable[[int], None] | None = None
) -> tuple[int, int]:
    """All-or-nothing upsert by id; returns (inserted, updated). Re-importing the same file changes nothing."""
    now = datetime.now(UTC).isoformat(timespec="seconds")
    inserted = updated = 0
    async with db.transaction() as conn:
        existing = {r[0] for r in await (await conn.execute("SELECT id FROM places")).fetchall()}
        batch: list[tuple[object, ...]] = []
        for i, place in enumerate(places, 1):
            if place.id in existing:
                updated += 1
            else:
                inserted += 1
                existing.add(place.id)
            batch.append(_row(place, now))
            if len(batch) >= 1000:
                await _write(conn, batch)
                batch.clear()
                if progress:
                    progress(i)
        if batch:
            await _write(conn, batch)
        await catalog.changed(conn, "places")  # every process reloads its index once this commits
        if progress:
            progress(len(places))
    return inserted, updated


async def _write(conn, batch: list[tuple[object, ...]]) -> None:  # type: ignore[no-untyped-def]
    await conn.executemany(
        f"INSERT INTO places ({_COLUMNS}) VALUES ({', '.join('?' * 18)})"
        " ON CONFLICT(id) DO UPDATE SET name=excluded.name, kind=excluded.kind, city=excluded.city,"
        " district=excluded.district, address=excluded.address, lat=excluded.lat, lon=excluded.lon,"
        " src_crs=excluded.src_crs, hours=excluded.hours, amenities=excluded.amenities, phone=excluded.phone,"
        " rider_policy=excluded.rider_policy, route_map=excluded.route_map, aliases=excluded.aliases,"
        " approximate=excluded.approximate, notes=excluded.notes, updated_at=excluded.updated_at",
        batch,
    )


def _split(cell: str) -> list[str]:
    return [p for p in cell.split(";") if p]


_LIVE_COLUMNS = (
    "l.status AS live_status, l.note AS live_note, l.until AS live_until, l.photo AS live_photo,"
    " l.updated_at AS live_updated_at, l.confirmed_at AS live_confirmed_at, l.disputed_at AS live_disputed_at"
)


def _when(stamp: str | None) -> datetime | None:
    return datetime.fromisoformat(stamp) if stamp else None


def _live(r: object) -> Live | None:
    """The keeper's word on a place (bot/places/live.py); None when nobody has said anything from the chat."""
    if r["live_status"] is None:  # type: ignore[index]
        return None
    imported, confirmed = r["updated_at"], r["live_confirmed_at"]  # type: ignore[index]
    return Live(
        status=r["live_status"], note=r["live_note"], until=_when(r["live_until"]), photo=r["live_photo"],
        updated_at=_when(r["live_updated_at"]), confirmed_at=_when(max(imported, confirmed or "")),
        disputed=r["live_disputed_at"] is not None,
    )  # type: ignore[index]  # fmt: skip


async def load_places(db: Database) -> list[Place]:
    columns = ", ".join(f"p.{c.strip()}" for c in _COLUMNS.split(","))
    rows = await db.fetchall(
        f"SELECT {columns}, {_LIVE_COLUMNS} FROM places p LEFT JOIN place_live l ON l.place_id = p.id ORDER BY p.id"
    )
    return [
        Place(
            id=r["id"],
            name=r["name"],
            kind=r["kind"],
            lat=r["lat"],
            lon=r["lon"],
            city=r["city"],
            district=r["district"],
            address=r["address"],
            hours=parse_hours(r["hours"]),
            amenities=frozenset(_split(r["amenities"])),
            phone=r["phone"],
            rider_policy=frozenset(_split(r["rider_policy"])),
            route_map=r["route_map"],
            aliases=tuple(_split(r["aliases"])),
            approximate=bool(r["approximate"]),
            notes=r["notes"],
            src_crs=r["src_crs"],
            live=_live(r),
        )
        for r in rows
    ]


async def place_ids(db: Database) -> set[str]:
    return {r["id"] for r in await db.fetchall("SELECT id FROM places")}


async def count_places(db: Database) -> int:
    row = await db.fetchone("SELECT COUNT(*) AS n FROM places")
    return int(row["n"]) if row else 0
