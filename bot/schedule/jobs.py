"""The two APScheduler jobs that drive deadlines and digests, on the scheduler the bot already has.

PTB's JobQueue wraps an APScheduler AsyncIOScheduler; we add our jobs to that one (one scheduler, not two). The
jobs only *trigger* a tick: what is due is decided from the database, so a missed or doubled trigger can never
lose or double a reminder. Coalescing and one instance at a time keep a clock jump from piling up runs.

With several processes on one database the jobs are installed everywhere but only the leader's run
(bot/store/leadership.py); a process that becomes leader ticks at once, so a fail-over delays nothing by a whole
interval. Each reminder, escalation and digest is claimed by its mark in `schedule_marks`, so even a tick of an
old leader still finishing while the new one starts cannot do a slot twice (bot/schedule/deadlines.py).
"""

from __future__ import annotations

import logging
from datetime import datetime, time, tzinfo
from typing import Any

from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from bot.schedule.deadlines import DeadlineWatcher
from bot.store.leadership import Leadership

log = logging.getLogger(__name__)
TICK_JOB, DIGEST_JOB = "rider-deadlines", "rider-digest"


def install(scheduler: Any, watcher: DeadlineWatcher, tz: tzinfo, *, every_seconds: int = 60,
            digest_at: time = time(8, 30), leader: Leadership | None = None) -> None:  # fmt: skip
    leader = leader or Leadership()

    async def tick() -> None:
        if not leader.is_leader:
            return  # another process runs the jobs; this one takes over if it goes
        try:
            result = await watcher.tick()
            if result.reminders or result.escalations or result.digests:
                log.info("deadline tick: %s", result)
        except Exception:  # a failing tick must not unschedule the job
            log.exception("deadline tick failed")

    common = {"coalesce": True, "max_instances": 1, "replace_existing": True}
    scheduler.add_job(
        tick, IntervalTrigger(seconds=every_seconds, timezone=tz), id=TICK_JOB,
        next_run_time=datetime.now(tz), misfire_grace_time=every_seconds, **common,
    )  # fmt: skip
    scheduler.add_job(
        tick, CronTrigger(hour=digest_at.hour, minute=digest_at.minute, timezone=tz), id=DIGEST_JOB,
        misfire_grace_time=6 * 3600, **common,
    )  # fmt: skip

    def on_change(leading: bool) -> None:
        if leading and scheduler.get_job(TICK_JOB) is not None:
            scheduler.modify_job(TICK_JOB, next_run_time=datetime.now(tz))

    leader.subscribe(on_change)
