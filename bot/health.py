"""Readiness: is this instance able to do its job right now? Three checks, each naming what is wrong.

- database: a real write (one row rewritten in `health_probe`), because a full disk or a read-only mount lets
  reads through and fails every rider's report;
- bot_api: the last Bot API call that got an answer is recent (polling makes one every few seconds; a quiet
  webhook deployment may make none, so a stale stamp is refreshed by asking `probe`, i.e. getMe, before failing);
- outbox: the oldest message that is due has waited less than the threshold (held messages, e.g. reminders
  waiting out quiet hours, are not due and do not count).

A fourth entry, leader, never fails: it says whether this process is the one that dispatches and runs the jobs,
and on a standby which process is (bot/store/leadership.py); a stalled leader shows up in the outbox check.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from bot import metrics
from bot.outbox.store import stamp
from bot.store import health as probe_store
from bot.store import outbox as outbox_store
from bot.store.db import Database
from bot.store.leadership import Leadership, current_leader


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str


async def check_database(db: Database) -> Check:
    try:
        await asyncio.wait_for(
            probe_store.touch(db, stamp(datetime.now(UTC))),
            timeout=5,
        )
    except Exception as exc:  # any failure to write is the answer, whatever its kind
        return Check("database", False, f"not writable: {type(exc).__name__}: {str(exc)[:120]}")
    return Check("database", True, "writable")


async def check_bot_api(max_age: float, probe: Callable[[], Awaitable[object]] | None) -> Check:
    age = metrics.seconds_since_bot_api_ok()
    if (age is None or age > max_age) and probe is not None:
        try:
            await asyncio.wait_for(probe(), timeout=5)
        except Exception as exc:
            return Check("bot_api", False, f"getMe failed: {type(exc).__name__}")
        age = metrics.seconds_since_bot_api_ok()
    if age is None:
        return Check("bot_api", False, "no successful Bot API call yet")
    if age > max_age:
        return Check("bot_api", False, f"last successful Bot API call {age:.0f} s ago (limit {max_age:.0f} s)")
    return Check("bot_api", True, f"last successful call {age:.1f} s ago")


async def check_outbox(db: Database, max_lag: float) -> Check:
    now = datetime.now(UTC)
    try:
        oldest, due = await asyncio.wait_for(outbox_store.due(db, stamp(now)), timeout=5)
    except Exception as exc:  # the database is down: a named failing check, not a 500 from /readyz
        return Check("outbox", False, f"cannot read the outbox: {type(exc).__name__}")
    if not oldest:
        return Check("outbox", True, "nothing due")
    lag = (now - datetime.fromisoformat(oldest.replace("Z", "+00:00"))).total_seconds()
    if lag > max_lag:
        return Check("outbox", False, f"{due} due messages, the oldest waiting {lag:.0f} s (limit {max_lag:.0f} s)")
    return Check("outbox", True, f"{due} due, oldest {lag:.1f} s")


async def check_leader(db: Database, leader: Leadership) -> Check:
    if leader.is_leader:
        return Check("leader", True, leader.describe())
    try:
        holder = await asyncio.wait_for(current_leader(db), timeout=5)
    except Exception as exc:
        holder = f"unknown ({type(exc).__name__})"
    return Check("leader", True, f"{leader.describe()}; leader now: {holder or 'none (election under way)'}")


async def readiness(
    db: Database,
    *,
    bot_api_max_age: float,
    outbox_max_lag: float,
    probe: Callable[[], Awaitable[object]] | None,
    leader: Leadership | None = None,
) -> list[Check]:
    checks = [
        await check_database(db),
        await check_bot_api(bot_api_max_age, probe),
        await check_outbox(db, outbox_max_lag),
    ]
    if leader is not None:
        checks.append(await check_leader(db, leader))
    return checks
