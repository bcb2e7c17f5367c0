""" "已收到" is durable: the receipt is an outbox row of the submit transaction, queued ahead of the forwards.

A rider who is not told files again and the grid worker gets a duplicate, so a committed report's receipt must
survive a failed send (and a kill: tests/test_crash.py checks every stored report's rider got its receipt).
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from dataclasses import replace
from datetime import datetime

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from tests.chat import ChatUser, button
from tests.reporting import bind, grid_at, jpeg

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids
RECEIPT = re.compile(r"已收到，编号 (SP-\d+)")


async def _summary(rider: ChatUser) -> dict:
    """A draft up to its ✅ 提交 summary, through the chat."""
    await rider.send(photo=jpeg((rider.user_id % 256, 90, 40)), caption="消防通道被电动车堵住了", replies=2)
    [categories] = await rider.share_location(*HERE)
    _, [summary] = await rider.tap(categories, "消防通道堵塞")
    assert "请确认上报内容" in summary["text"]
    return summary


def _receipts(runtime: Runtime, chat_id: int) -> list[str]:
    assert runtime.standin is not None
    return [m.group(1) for msg in runtime.standin.bot_messages(chat_id) if (m := RECEIPT.search(msg.get("text", "")))]


async def test_a_committed_report_is_acknowledged_even_when_the_first_sends_fail(
    runtime: Runtime, rider: ChatUser
) -> None:
    assert runtime.standin is not None and runtime.services is not None
    summary = await _summary(rider)
    # Telegram (here the stand-in) refuses the next three sendMessage calls: the receipt's first tries fail.
    runtime.standin.faults.methods = frozenset({"sendmessage"})
    runtime.standin.faults.fail_next("5xx", 3)
    query = runtime.standin.inject_callback(
        rider.user_id, summary["message_id"], button(summary, "提交")["callback_data"]
    )
    await runtime.standin.wait_for_callback_answer(query, timeout=8)
    [(report_id,)] = await runtime.services.db.fetchall("SELECT id FROM reports")
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 20
    while not _receipts(runtime, rider.user_id) and loop.time() < deadline:  # noqa: ASYNC110 - the stand-in's chat
        await asyncio.sleep(0.05)
    assert _receipts(runtime, rider.user_id) == [f"SP-{report_id:06d}"], "the committed report's rider was not told"
    assert len(runtime.standin.faults.injected) == 3
    await runtime.services.outbox.wait_idle()  # the row is settled once the stand-in's answer is back
    row = await runtime.services.db.fetchone("SELECT status, attempts FROM outbox WHERE idem_key LIKE '%:receipt'")
    assert tuple(row) == ("sent", 4)


def _at(stamp: str) -> float:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp()


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def test_receipts_under_a_30_rider_burst_come_first_and_once(settings: Settings, clock: ManualClock) -> None:
    """Production pacing (1 message/s per chat, 25/s overall, PTB's 30/s limiter): 30 riders tap ✅ 提交 at once."""
    runtime = Runtime(replace(settings, outbox_per_chat_interval=1.0), clock)
    await runtime.start(poll_timeout=1)
    try:
        assert runtime.standin is not None and runtime.services is not None
        worker = ChatUser(runtime.standin, 2001, "网格员老李")
        await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
        riders = [ChatUser(runtime.standin, 50_001 + i) for i in range(30)]
        summaries = await asyncio.gather(*(_summary(r) for r in riders))
        pressed: dict[int, float] = {}
        for rider, summary in zip(riders, summaries, strict=True):
            pressed[rider.user_id] = time.monotonic()
            runtime.standin.inject_callback(
                rider.user_id, summary["message_id"], button(summary, "提交")["callback_data"]
            )
        told: dict[int, float] = {}
        deadline = time.monotonic() + 60
        while len(told) < len(riders) and time.monotonic() < deadline:
            for rider in riders:
                if rider.user_id not in told and _receipts(runtime, rider.user_id):
                    told[rider.user_id] = time.monotonic()
            await asyncio.sleep(0.01)
        assert len(told) == len(riders), f"{len(riders) - len(told)} riders were never told"
        sql = "SELECT created_at, sent_at FROM outbox WHERE idem_key LIKE '%:receipt' AND status = 'sent'"
        rows = await runtime.services.db.fetchall(sql)
        while len(rows) < len(riders) and time.monotonic() < deadline:  # settled once the stand-in's answers are in
            await asyncio.sleep(0.05)
            rows = await runtime.services.db.fetchall(sql)
        commit_to_receipt = [_at(sent) - _at(created) for created, sent in rows]
        tap_to_receipt = [told[r] - pressed[r] for r in told]
        figures = {
            "commit_to_receipt_p50": statistics.median(commit_to_receipt),
            "commit_to_receipt_p99": _percentile(commit_to_receipt, 0.99),
            "tap_to_receipt_p50": statistics.median(tap_to_receipt),
            "tap_to_receipt_p99": _percentile(tap_to_receipt, 0.99),
        }
        print({k: round(v, 3) for k, v in figures.items()})
        assert len(rows) == 30 and all(len(_receipts(runtime, r.user_id)) == 1 for r in riders)
        # Each report's receipt row comes before its forwards, so no rider waits behind the worker's queue.
        first = await runtime.services.db.fetchall(
            "SELECT MIN(o.id), (SELECT id FROM outbox o2 WHERE o2.idem_key = 'r' || r.id || ':receipt')"
            " FROM outbox o JOIN reports r ON o.idem_key LIKE 'r' || r.id || ':%' GROUP BY r.id"
        )
        assert all(lowest == receipt for lowest, receipt in first)
        # No bound on the figures (they depend on the machine's load): docs/RELIABILITY.md records what they were.
    finally:
        await runtime.stop()
