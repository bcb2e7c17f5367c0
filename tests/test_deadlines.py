"""限时办结 through the real stack with a clock the test moves: reminders, escalation (吹哨), quiet hours,
the 08:30 digest, restarts and a two-day stop — each step exactly once."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime, timedelta

import pytest
from apscheduler.triggers.cron import CronTrigger

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.schedule.jobs import DIGEST_JOB, TICK_JOB
from tests.chat import ChatUser
from tests.conftest import SHANGHAI
from tests.reporting import file_report, grid_team

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格


async def outbox_texts(runtime: Runtime, address: int) -> list[str]:
    rows = await runtime.services.db.fetchall(
        "SELECT payload FROM outbox WHERE channel = 'telegram' AND address = ? ORDER BY id", (str(address),)
    )
    return [json.loads(r[0]).get("text") or json.loads(r[0]).get("caption", "") for r in rows]


async def events(runtime: Runtime, report_id: int) -> list[tuple]:
    rows = await runtime.services.db.fetchall(
        "SELECT action, from_status, to_status FROM report_events WHERE report_id = ? ORDER BY id", (report_id,)
    )
    return [tuple(r) for r in rows]


@pytest.fixture
async def team(runtime: Runtime) -> dict[str, ChatUser]:
    return await grid_team(runtime, *HERE, department="xiaofang")


async def test_breach_escalates_up_the_chain_then_resolution(
    runtime: Runtime, clock: ManualClock, team: dict[str, ChatUser]
) -> None:
    watcher = runtime.services.deadlines
    report_id = await file_report(team["rider"], "消防通道堵塞")  # 30 min to accept, urgent
    assert (await watcher.tick()).reminders == 0
    clock.advance(timedelta(minutes=15))
    assert (await watcher.tick()).reminders == 1  # 50 %
    clock.advance(timedelta(minutes=12))
    assert (await watcher.tick()).reminders == 1  # 90 %
    assert (await watcher.tick()).reminders == 0, "never twice"
    worker_texts = await outbox_texts(runtime, 2001)
    assert sum("⏰ 提醒" in text for text in worker_texts) == 2
    clock.advance(timedelta(minutes=4))  # 31 min: breach → the community supervisor
    assert (await watcher.tick()).escalations == 1
    assert any("超时督办" in text for text in await outbox_texts(runtime, 3001))
    assert any("上报社区督办" in text for text in await outbox_texts(runtime, 1001))
    clock.advance(timedelta(minutes=30))  # + one window → the street
    assert (await watcher.tick()).escalations == 1
    assert any("超时督办" in text for text in await outbox_texts(runtime, 3002))
    clock.advance(timedelta(minutes=30))  # + two windows → the category's department (吹哨)
    assert (await watcher.tick()).escalations == 1
    assert (await watcher.tick()).escalations == 0
    report = await runtime.services.db.fetchone(
        "SELECT status, assignee_kind, assignee, escalation_level FROM reports WHERE id = ?", (report_id,)
    )
    assert tuple(report) == ("transferred", "department", "xiaofang", 3)
    assert any("吹哨" in text for text in await outbox_texts(runtime, 1001))
    assert [e[0] for e in await events(runtime, report_id)] == [
        "create", "route", "escalate", "escalate", "transfer",
    ]  # fmt: skip
    # the fire station works it to closure
    await runtime.services.outbox.wait_idle()
    fire = team["fire"]
    card = next(m for m in runtime.standin.bot_messages(fire.user_id) if "photo" in m and "接单" in str(m))
    assert "🚨 由 蝶梦社区第2网格 网格员 接单超时" in card["caption"], "the department is told from whom and why"
    _, [accepted] = await fire.tap(card, "接单")
    assert "已接单" in accepted["text"]
    status = await runtime.services.db.fetchone("SELECT status FROM reports WHERE id = ?", (report_id,))
    assert status[0] == "accepted"


async def test_a_restart_in_the_middle_sends_each_step_once(
    runtime: Runtime, settings: Settings, clock: ManualClock, team: dict[str, ChatUser]
) -> None:
    report_id = await file_report(team["rider"], "消防通道堵塞")
    clock.advance(timedelta(minutes=16))
    assert (await runtime.services.deadlines.tick()).reminders == 1
    await runtime.stop()
    clock.advance(timedelta(minutes=20))  # down through the 90 % reminder and the breach
    again = Runtime(settings, clock)
    await again.start(poll_timeout=1)
    try:
        # The scheduler's job ticks right at start: the backlog is handled without anyone calling tick().
        marks: list = []
        for _ in range(250):  # bounded: 5 s
            marks = await again.services.db.fetchall(
                "SELECT mark, outcome FROM schedule_marks WHERE mark LIKE ? ORDER BY mark", (f"r{report_id}:%",)
            )
            if len(marks) == 3:
                break
            await asyncio.sleep(0.02)
        assert sorted(o for _, o in marks) == ["sent", "sent", "skipped"]  # 50 % sent; 90 % skipped; breach sent
        result = await again.services.deadlines.tick()
        assert (result.escalations, result.reminders) == (0, 0)
        assert [e[0] for e in await events(again, report_id)].count("escalate") == 1
    finally:
        await again.stop()


async def test_quiet_hours_hold_non_urgent_reminders_but_not_urgent_ones(
    runtime: Runtime, clock: ManualClock, team: dict[str, ChatUser]
) -> None:
    clock.set(datetime(2026, 11, 26, 21, 0, tzinfo=SHANGHAI))
    await file_report(team["rider"], "环境卫生")  # 8 h to accept, not urgent: 50 % falls at 01:00
    await file_report(team["rider"], "消防通道堵塞", caption="urgent")  # 30 min, urgent
    clock.set(datetime(2026, 11, 27, 1, 5, tzinfo=SHANGHAI))
    result = await runtime.services.deadlines.tick()
    assert result.reminders >= 1
    rows = await runtime.services.db.fetchall(
        "SELECT payload, next_at FROM outbox WHERE address = '2001' AND payload LIKE '%提醒%'"
    )
    held = [r["next_at"] for r in rows if "环境卫生" in r["payload"]]
    assert held and all(at >= "2026-11-26T23:00:00" for at in held)  # 07:00 Shanghai = 23:00 UTC
    # four hours past its 30-minute limit, the urgent fire lane went all the way to the fire service, at once
    told = await runtime.services.db.fetchall(
        "SELECT next_at, created_at FROM outbox WHERE address = '1001' AND payload LIKE '%吹哨%'"
    )
    assert told and all(r["next_at"] == r["created_at"] for r in told), "urgent ignores quiet hours"


async def test_the_0830_digest_once_a_day(runtime: Runtime, clock: ManualClock, team: dict[str, ChatUser]) -> None:
    watcher = runtime.services.deadlines
    clock.set(datetime(2026, 11, 26, 9, 0, tzinfo=SHANGHAI))
    await watcher.tick()  # today's digest goes out late (we were "started" after 08:30)
    report_id = await file_report(team["rider"], "灯损坏")
    clock.set(datetime(2026, 11, 27, 8, 29, tzinfo=SHANGHAI))
    assert (await watcher.tick()).digests == 0
    clock.set(datetime(2026, 11, 27, 8, 31, tzinfo=SHANGHAI))
    assert (await watcher.tick()).digests >= 2  # the community and the street supervisors
    assert (await watcher.tick()).digests == 0
    digest = next(t for t in await outbox_texts(runtime, 3001) if "2026-11-26 工作日报" in t)
    assert "昨日新增：1" in digest and "在办：1" in digest and f"SP-{report_id:06d}" in digest
    row = await runtime.services.db.fetchone("SELECT payload FROM outbox WHERE payload LIKE '%2026-11-26 工作日报%'")
    assert f"rq:{report_id}" in row[0], "one-tap buttons for the oldest items"


async def test_a_two_day_stop_sends_one_step_per_report_not_a_storm(
    runtime: Runtime, clock: ManualClock, team: dict[str, ChatUser]
) -> None:
    ids = [await file_report(team["rider"], c) for c in ("消防通道堵塞", "灯损坏", "环境卫生")]
    before = (await runtime.services.db.fetchone("SELECT COUNT(*) FROM outbox"))[0]
    clock.advance(timedelta(days=2))
    result = await runtime.services.deadlines.tick()
    # per report and clock at most one step: the accept clock's highest escalation, the resolve clock's reminder
    assert result.escalations == 3 and result.reminders <= 3
    assert (await runtime.services.deadlines.tick()).escalations == 0
    for report_id in ids:
        level = await runtime.services.db.fetchone("SELECT escalation_level FROM reports WHERE id = ?", (report_id,))
        assert level[0] == 3
    after = (await runtime.services.db.fetchone("SELECT COUNT(*) FROM outbox"))[0]
    assert after - before <= 3 * 6, "bounded: a handful of messages per report, not every missed step"


async def test_the_jobs_run_on_ptbs_scheduler_in_shanghai_time(runtime: Runtime) -> None:
    scheduler = runtime.application.job_queue.scheduler
    digest = scheduler.get_job(DIGEST_JOB)
    tick = scheduler.get_job(TICK_JOB)
    assert tick is not None and digest is not None
    assert isinstance(digest.trigger, CronTrigger)
    assert str(digest.trigger.timezone) == "Asia/Shanghai"
    assert digest.next_run_time.astimezone(SHANGHAI).strftime("%H:%M") == "08:30"
    assert digest.coalesce and tick.coalesce and tick.max_instances == 1


async def test_time_limits_come_from_the_table(settings: Settings, clock: ManualClock) -> None:
    runtime = Runtime(replace(settings), clock)
    await runtime.start(poll_timeout=1)
    try:
        async with runtime.services.db.transaction() as conn:
            await conn.execute("UPDATE category_limits SET accept_minutes = 5 WHERE category = 'lights'")
        rider = ChatUser(runtime.standin, 1001)
        report_id = await file_report(rider, "灯损坏")
        row = await runtime.services.db.fetchone(
            "SELECT created_at, accept_due FROM reports WHERE id = ?", (report_id,)
        )
        delta = datetime.fromisoformat(row[1]) - datetime.fromisoformat(row[0])
        assert delta == timedelta(minutes=5)
    finally:
        await runtime.stop()


async def test_stats_and_overdue_on_demand_for_supervisors_only(
    runtime: Runtime, clock: ManualClock, team: dict[str, ChatUser]
) -> None:
    report_id = await file_report(team["rider"], "消防通道堵塞")
    [refused] = await team["rider"].send("/stats")
    assert "只有社区、街道负责人和管理员" in refused["text"]
    [nothing] = await team["community"].send("/overdue")
    assert "没有超时工单" in nothing["text"]
    clock.advance(timedelta(minutes=45))
    [late] = await team["community"].send("/overdue")
    assert f"SP-{report_id:06d}" in late["text"] and "接单超时" in late["text"]
    [stats] = await team["street"].send("/stats")
    assert "在办 1" in stats["text"] and "超时 1" in stats["text"]


def test_sla_cli_sets_and_lists_limits(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    db = str(tmp_path / "rider.sqlite3")
    run = [sys.executable, "-m", "bot.cli", "--db", db]
    done = subprocess.run([*run, "sla", "set", "lights", "--accept", "90"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    listing = subprocess.run([*run, "sla", "list"], capture_output=True, text=True, timeout=60)
    assert "灯损坏: 接单 90 分钟" in listing.stdout
    bad = subprocess.run([*run, "sla", "set", "nuclear", "--accept", "5"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "未知类别" in bad.stderr
    stats = subprocess.run([*run, "--lang", "en", "stats"], capture_output=True, text=True, timeout=60)
    assert stats.returncode == 0 and "overdue 0" in stats.stdout
