"""Photos in the database (the PostgreSQL deployment's photo store; bot/media/photos.py decides what is stored).

With N processes on several hosts a photo received by one must be served and forwarded by any other, so the bytes
live where every process already reaches: two content-addressed tables, `photo_shared` (the metadata-free JPEG,
the only form that leaves the core) and `photo_originals` (the rider's bytes as sent, kept as evidence). The
shareable copy is written first, so an original is never visible without its twin; both writes are idempotent
(the same photo sent twice, or by two processes at once, is stored once). The reads select one column of one
row: the shareable JPEG never drags the original along.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.store.db import Database


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


async def save(db: Database, sha256: str, ext: str, shared_jpeg: bytes, original: bytes) -> None:
    at = _now()
    await db.write(
        "INSERT INTO photo_shared (sha256, jpeg, created_at) VALUES (?, ?, ?) ON CONFLICT(sha256) DO NOTHING",
        (sha256, shared_jpeg, at),
    )
    await db.write(
        "INSERT INTO photo_originals (sha256, ext, data, created_at) VALUES (?, ?, ?, ?)"
        " ON CONFLICT(sha256) DO NOTHING",
        (sha256, ext, original, at),
    )


async def shared_jpeg(db: Database, sha256: str) -> bytes | None:
    row = await db.fetchone("SELECT jpeg FROM photo_shared WHERE sha256 = ?", (sha256,))
    return bytes(row[0]) if row else None


async def original(db: Database, sha256: str) -> tuple[str, bytes] | None:
    """(extension, bytes) of the original."""
    row = await db.fetchone("SELECT ext, data FROM photo_originals WHERE sha256 = ?", (sha256,))
    return (row[0], bytes(row[1])) if row else None


async def digests(db: Database) -> list[str]:
    """Every stored photo's id (those with an original), in order."""
    return [r[0] for r in await db.fetchall("SELECT sha256 FROM photo_originals ORDER BY sha256")]
