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

from bot import metrics
from bot.store.db import Database


@dataclass
class _Bucket:
    tokens: float
    updated: float
    warned: bool = False


def _refill(bucket: _Bucket, now: float, capacity: int, rate: float) -> None:
    bucket.tokens = min(capacity, bucket.tokens + (now - bucket.updated) * rate)
    bucket.updated = now


class FloodGuard:
    def __init__(
        self,
        *,
        burst: int = 20,
        per_second: float = 1.0,
        global_burst: int = 2000,
        global_per_second: float = 200.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.burst = burst
        self.per_second = per_second
        self.clock = clock
        self._buckets: dict[str, _Bucket] = {}
        # Everyone together: beyond this the bot sheds load (silently) rather than fall minutes behind.
        self._global = _Bucket(float(global_burst), clock())
        self.global_burst = global_burst
        self.global_per_second = global_per_second

    def check(self, who: str) -> str:
        """'ok', 'warn' (over the limit for the first time: tell them once) or 'drop'.

        The user's own bucket is checked first and only messages it lets through spend the shared budget, so a
        flooder cannot use up everyone's share."""
        now = self.clock()
        bucket = self._buckets.get(who)
        if bucket is None:
            bucket = self._buckets[who] = _Bucket(float(self.burst), now)
        _refill(bucket, now, self.burst, self.per_second)
        if bucket.tokens < 1:
            verdict = "drop" if bucket.warned else "warn"
            bucket.warned = True
            metrics.flood_refused(who, verdict)
            return verdict
        _refill(self._global, now, self.global_burst, self.global_per_second)
        if self._global.tokens < 1:
            metrics.flood_refused(who, "drop")
            return "drop"
        self._global.tokens -= 1
        bucket.tokens -= 1
        bucket.warned = False
        return "ok"

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
