"""Places nobody has confirmed for a long time: `rider-bot stations stale --days 90` and a line in the digest.

A place is confirmed by the import that wrote it, by its keeper (any change or 👍 信息无误) or by an admin; a map
is only as good as its freshness, so the ones that went quiet are named where someone will act on them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from bot.people.model import utc_stamp
from bot.store import keepers as store
from bot.store.db import Database
from bot.texts import t

STALE_DAYS = 90
DIGEST_NAMES = 5


async def stale(db: Database, now: datetime, days: int = STALE_DAYS) -> list[store.StaleRow]:
    return await store.stale_places(db, utc_stamp(now - timedelta(days=days)))


def in_scope(rows: list[store.StaleRow], grids: Any, scope: str | None) -> list[store.StaleRow]:
    """All of them for admins (scope None); a supervisor's own area's for a supervisor."""
    if scope is None:
        return rows
    if grids is None:
        return []
    return [r for r in rows if any(g.id == scope for g in grids.locate(r.lat, r.lon).values())]


def digest_line(lang: str, rows: list[store.StaleRow], days: int = STALE_DAYS) -> str:
    names = "、".join(r.name for r in rows[:DIGEST_NAMES]) + ("…" if len(rows) > DIGEST_NAMES else "")
    return t(lang, "digest.stale", n=len(rows), days=days, names=names)
