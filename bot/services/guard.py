"""Door-side protection every channel shares: each inbound message acts once, and no one can flood.

Duplicates: platforms deliver at least once, so the first sight of a (channel, key) is recorded durably and a
second one is dropped. Flooding: a token bucket per user (a burst, then a steady rate); a user over the limit is
told once to slow down and then ignored until the bucket refills, so they cannot slow anyone else down.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.store.db import Database


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


class FloodGuard:
    def __init__(
        self, *, burst: int = 20, per_second: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}

    def check(self, who: str) -> str:
        """'ok', 'warn' (over the limit for the first time: tell them once) or 'drop'."""
        now = self.clock()
        bucket = self._buckets.get(who)
        if bucket is None:
            bucket = self._buckets[who] = _Bucket(float(self.burst), now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.per_second)
        bucket.updated = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return "ok"
        if not bucket.warned:
            bucket.warned = True
            return "warn"
        return "drop"

    def forget_idle(self, older_than: float = 3600.0) -> None:
        """Memory stays bounded by the users active in the last hour."""
        cutoff = self.clock() - older_than
        for key in [k for k, b in self._buckets.items() if b.updated < cutoff]:
            del self._buckets[key]


async def first_sight(db: Database, channel: str, key: str, keep: timedelta = timedelta(days=2)) -> bool:
    """True the first time (channel, key) is seen; False for a redelivery. Old entries are pruned."""
    now = datetime.now(UTC)
    fresh = (
        await db.write(
            "INSERT INTO inbound_seen (channel, key, at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
            (channel, key, now.isoformat(timespec="seconds")),
        )
        == 1
    )
    if fresh and hash(key) % 500 == 0:  # prune now and then, not on every message
        await db.write("DELETE FROM inbound_seen WHERE at < ?", ((now - keep).isoformat(timespec="seconds"),))
    return fresh
