"""Door-side protection every channel shares: each inbound message acts once, and no one can flood.

Duplicates: platforms deliver at least once, so the first sight of a (channel, key) is recorded durably and a
second one is dropped. Interruptions: an update is recorded with its contents when it arrives and marked done
when its handlers finish (`InboundLedger`), so one cut off by a crash is run again at the next start instead of
being lost (or dropped as "already seen" when the platform redelivers it).
 Flooding: a token bucket per user (a burst, then a steady rate); a user over the limit is
told once to slow down and then ignored until the bucket refills, so they cannot slow anyone else down.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot import metrics
from bot.store import flood, inbound
from bot.store.db import Database
from bot.store.inbound import Arrival

log = logging.getLogger(__name__)

_PRUNE_EVERY = 500  # recorded updates between two prunes of the ledger (and of idle flood budgets)


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

    async def verdict(self, who: str) -> str:
        """`check`, as every door calls it: the shared guard below needs the database to answer."""
        return self.check(who)

    def forget_idle(self, older_than: float = 3600.0) -> None:
        """Memory stays bounded by the users active in the last hour."""
        cutoff = self.clock() - older_than
        for key in [k for k, b in self._buckets.items() if b.updated < cutoff]:
            del self._buckets[key]


class SharedFloodGuard(FloodGuard):
    """The same budgets kept in the database, so that N processes behind a load balancer spend from one per-user
    and one global budget (PostgreSQL; bot/store/flood.py): one atomic statement per update. If the database
    cannot answer, the update is let through: recording it fails the same way, and the person is told."""

    def __init__(self, db: Database, **limits: float) -> None:
        super().__init__(**limits)  # type: ignore[arg-type]
        self.db = db

    @property
    def limits(self) -> tuple[float, float, float, float]:
        return (self.burst, self.per_second, self.global_burst, self.global_per_second)

    async def verdict(self, who: str) -> str:
        try:
            verdict = await flood.spend(self.db, who, self.limits)
        except Exception as exc:
            log.warning("flood budget unavailable (%s): letting the update through", type(exc).__name__)
            return "ok"
        if verdict != "ok":
            metrics.flood_refused(who, verdict)
        return verdict


class InboundLedger:
    """Each inbound update from arrival to done, durably, for one process (`boot`): at least once, and once.

    `admit_many` records a batch of updates (flood-checked) before the platform learns they were received, in one
    round trip; `finish` marks it done (and drops its
    contents) after its handlers ran; `unfinished` hands a new process the updates an earlier one took in but did
    not finish (one process on SQLite; with many, bot/services/chat_order.py hands them over per chat). An update
    that never finishes (it kills the process every time) is given up after `max_tries`."""

    def __init__(self, db: Database, *, keep: timedelta = timedelta(days=2), max_tries: int = 3) -> None:
        self.db = db
        self.keep = keep
        self.max_tries = max_tries
        self.boot = secrets.token_hex(8)
        # Recorded updates since the last prune; the first recording of a process prunes, so a process that
        # restarts often still does.
        self._recorded = _PRUNE_EVERY

    async def admit(
        self,
        flood_guard: FloodGuard,
        who: str | None,
        channel: str,
        key: str,
        payload: str | None,
        *,
        chat: str,
        seq: int,
    ) -> tuple[str, bool]:
        """`admit_many` for one update (a webhook POST, a WeChat message)."""
        [outcome] = await self.admit_many(flood_guard, channel, [Arrival(key, payload, chat, seq, who)])
        return outcome

    async def admit_many(
        self, flood_guard: FloodGuard, channel: str, arrivals: Sequence[Arrival]
    ) -> list[tuple[str, bool]]:
        """Flood-check and record a batch of new updates in one database round trip: (verdict, fresh) for each, in
        order, as if each had been admitted on its own in turn (several updates of one user spend that user's
        budget one after the other). Checked before it is recorded, so a refused update is recorded as done and no
        process ever runs it. With the shared budgets (PostgreSQL) both happen in the database, where a redelivery
        spends nothing; the in-memory budgets (SQLite) are spent first, then the batch is recorded in one INSERT.
        Raises if the batch cannot be recorded (then none of it is)."""
        if not arrivals:
            return []
        now = datetime.now(UTC)
        at = now.isoformat(timespec="seconds")
        shared = isinstance(flood_guard, SharedFloodGuard)
        if shared:
            outcomes = await flood.arrive_many(
                self.db, channel, arrivals, limits=flood_guard.limits, at=at, boot=self.boot
            )
            for arrival, (verdict, fresh) in zip(arrivals, outcomes, strict=True):
                if fresh and verdict != "ok" and arrival.who is not None:
                    metrics.flood_refused(arrival.who, verdict)
        else:
            verdicts = [("ok" if a.who is None else await flood_guard.verdict(a.who)) for a in arrivals]
            done = [v != "ok" for v in verdicts]
            fresh = await inbound.record_many(self.db, channel, arrivals, at=at, boot=self.boot, done=done)
            outcomes = list(zip(verdicts, fresh, strict=True))
        self._recorded += sum(f for _, f in outcomes)
        if self._recorded >= _PRUNE_EVERY:  # now and then, not on every update: rows done long ago go
            self._recorded = 0
            await inbound.prune(self.db, (now - self.keep).isoformat(timespec="seconds"))
            if shared:
                await flood.forget_idle(self.db)
        return outcomes

    async def finish(self, channel: str, key: str) -> None:
        await inbound.finish(self.db, channel, key)

    async def unfinished(self, channel: str) -> list[tuple[str, str]]:
        """(key, payload) of every update earlier processes took in and did not finish, in arrival order, now
        taken over by this process; those tried `max_tries` times already are given up (logged)."""
        async with self.db.transaction() as conn:
            taken: list[tuple[str, str]] = []
            for key, payload, tries in await inbound.unfinished_elsewhere(conn, channel, self.boot):
                if tries >= self.max_tries or payload is None:
                    log.warning("giving up inbound %s %s after %d interrupted tries", channel, key, tries)
                    await inbound.give_up(conn, channel, key)
                    continue
                await inbound.take_in(conn, channel, key, self.boot)
                taken.append((key, payload))
        return taken


def flood_guard(db: Database, **limits: float) -> FloodGuard:
    """In memory for one process (SQLite); in the database, shared by every process, on PostgreSQL."""
    if db.dialect == "postgresql":
        return SharedFloodGuard(db, **limits)
    return FloodGuard(**limits)  # type: ignore[arg-type]
