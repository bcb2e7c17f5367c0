"""Scale-out figures C and D: the elected dispatcher's delivery rate against Telegram's 30 messages/s, and how
long the outbox stays silent when its leader is killed (bot/store/leadership.py).

Both run on the scale-out test's harness (tests/cluster.py): `rider-bot run` processes in webhook mode behind
nginx on one PostgreSQL database, the stand-in as Telegram in this process.

* **delivery rate**: 2 processes with the production pacing (one message per chat per second, the dispatcher's
  25/s, PTB's rate limiter at Telegram's 30/s); a backlog of messages to many chats is queued in the database
  (as any process's services queue them) and the leader woken; the rate is read from the stand-in's arrival
  times: messages per second over the drain, and the most in any one-second window — one dispatcher for the whole
  bot, whatever the number of processes, so the cap holds per bot token;
* **fail-over**: 3 processes; repeatedly kill -9 the leader, queue one notice at that instant, and time until
  the notice reaches the stand-in — sent by another process, since the killed one is gone. The killed process is
  restarted (as systemd's Restart=always would) before the next kill.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import pct
from bench.harness import TimedStandIn
from bench.multi import timed_telegram
from bench.pgserver import fresh_database
from bot.outbox.messages import text
from bot.outbox.store import Recipient, enqueue
from bot.store.db import Database
from bot.store.leadership import notify_leader
from tests.cluster import Cluster

Log = Callable[[str], None]
ROOT = Path(__file__).resolve().parent.parent
CHAT_BASE = 90_000_000
TELEGRAM_CAP = 30.0
# The deployment's pacing (tests/cluster.py relaxes it for scripted riders; here it is what is measured).
DEPLOYED = {"outbox_per_chat_interval": 1.0}


@dataclass
class RateResult:
    queued: int
    delivered: int
    per_s: float  # over the drain: (delivered - 1) / (last - first)
    max_in_any_second: int
    min_same_chat_gap_s: float


@dataclass
class FailoverResult:
    kills: list[float] = field(default_factory=list)  # seconds from kill -9 to the next delivery, one per kill
    leader_seen: list[float] = field(default_factory=list)  # seconds until /metrics showed a new leader

    @property
    def p95(self) -> float:
        return pct(self.kills, 95)


def _cluster(root: Path, url: str, workers: int) -> tuple[Cluster, TimedStandIn]:
    env = {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    cluster = Cluster(root, database=url, workers=workers, settings=DEPLOYED, env=env)
    return cluster, timed_telegram(cluster)


async def _queue(db: Database, keys: list[tuple[str, int, str]]) -> None:
    """(idempotency key, chat, text) rows in one transaction, then the leader is woken (as the services do)."""
    async with db.transaction() as conn:
        for key, chat, body in keys:
            await enqueue(conn, key, Recipient(None, "telegram", str(chat)), text(body))
    await notify_leader(db)


async def delivery_rate(server_url: str, messages: int, chats: int, log: Log) -> RateResult:
    url = await fresh_database(server_url, "dispatch_rate")
    root = Path(tempfile.mkdtemp(prefix="rider-bench-dispatch-"))
    cluster, telegram = _cluster(root, url, 2)
    try:
        await cluster.start()
        await cluster.wait_leader(60)
        telegram.record_arrivals = True
        async with Database(url) as db:
            await _queue(db, [(f"rate:{i}", CHAT_BASE + i % chats, f"rate {i}") for i in range(messages)])
        deadline = time.monotonic() + messages / 10 + 30  # far beyond what 25/s needs: bounded
        while len(telegram.arrivals) < messages and time.monotonic() < deadline:  # noqa: ASYNC110 (bounded poll)
            await asyncio.sleep(0.2)
        arrivals = sorted((t, chat) for chat, t, _ in telegram.arrivals)
    finally:
        await cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    times = [t for t, _ in arrivals]
    per_s = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 else 0.0
    most, j = 0, 0
    for i, t in enumerate(times):  # the most arrivals in any window [t, t + 1 s)
        while times[j] <= t - 1.0:
            j += 1
        most = max(most, i - j + 1)
    last: dict[int, float] = {}
    gap = float("inf")
    for t, chat in arrivals:
        if chat in last:
            gap = min(gap, t - last[chat])
        last[chat] = t
    result = RateResult(messages, len(times), per_s, most, gap)
    log(
        f"  dispatcher, 2 processes: {result.delivered}/{messages} delivered to {chats} chats at {per_s:.1f}/s;"
        f" most in any second {most} (Telegram's cap {TELEGRAM_CAP:.0f}); min same-chat gap {gap:.2f} s"
    )
    return result


async def failover(server_url: str, kills: int, workers: int, log: Log) -> FailoverResult:
    url = await fresh_database(server_url, "failover")
    root = Path(tempfile.mkdtemp(prefix="rider-bench-failover-"))
    cluster, telegram = _cluster(root, url, workers)
    out = FailoverResult()
    try:
        await cluster.start()
        async with Database(url) as db:
            for k in range(kills):
                leader, _ = await cluster.wait_leader(60)
                chat = CHAT_BASE + 50_000 + k
                arrived = telegram.expect(chat)
                killed_at = time.perf_counter()
                await cluster.kill(leader)
                await _queue(db, [(f"failover:{k}", chat, f"fail-over {k}")])
                seen = asyncio.create_task(cluster.wait_leader(60, other_than=leader))
                at = await asyncio.wait_for(arrived, 60)
                out.kills.append(at - killed_at)
                await seen
                out.leader_seen.append(time.time() - cluster.workers[leader].kills[-1])
                log(
                    f"  kill {k + 1}: worker {leader} killed; the notice queued then arrived after"
                    f" {out.kills[-1]:.2f} s (a new leader on /metrics after {out.leader_seen[-1]:.2f} s)"
                )
                if k < kills - 1:
                    await cluster.restart(leader)
    finally:
        await cluster.stop()
        shutil.rmtree(root, ignore_errors=True)
    log(
        f"  fail-over over {kills} kills: p50 {pct(out.kills, 50):.2f} s, p95 {out.p95:.2f} s,"
        f" max {max(out.kills):.2f} s"
    )
    return out
