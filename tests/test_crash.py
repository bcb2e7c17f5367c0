"""SIGKILL in the middle of a burst of 随手拍 reports: nothing acknowledged is lost, nothing is forwarded twice
beyond the one copy a kill can cost, and the database stays sound.

The stand-in (our fake of Telegram's servers) lives in this test process, so it survives every kill and
records everything. The bot runs in a child process (`python -m tests.crashbot`): the real `Runtime`, PTB
polling the stand-in over HTTP, the outbox dispatcher and a SQLite file in a temporary directory. Grid workers are bound
before the first start. Many riders file reports at once through the real chat flow (photo with words →
location → category → "not the same problem" when offered → ✅ 提交), each rider's steps in order, reacting to
what the bot says. Each round, at a random (seeded) moment during the burst, the child is killed with SIGKILL
and restarted on the same database and the same stand-in; some rounds kill it once more while the outbox is
draining. A rider whose step goes unanswered (the bot was dead) waits until the bot is back and picks up with
/report, as a person would. After each kill and each round:

- `PRAGMA integrity_check` is "ok";
- every "✅ 已收到，编号 SP-…" a rider was shown is a report row of that rider, and every report row's rider was
  shown its "已收到" (the receipt is an outbox row of the submit transaction);
- every report (acknowledged or not) has its forward rows, all 'sent', and each card is in a worker's chat;
- per worker chat, every message is an outbox row's delivery, except at most one extra copy per kill of the
  message that was in flight (it sits right before its recorded twin) — the Bot API cannot tell us whether a
  send cut off by the kill was acted on (docs/RELIABILITY.md, "The ambiguous case");
- no report holds the same photo message twice: no update was processed twice;
- updates the bot fetched but never confirmed (getUpdates offset) before a kill are delivered again after the
  restart, and every "dropped redelivered update" the bot logged is one of them;
- every update a killed child fetched was recorded before Telegram could count it as received, and finished: by
  that child, or re-run by the next one (photo downloads are slowed to 0.3 s, so kills land inside handlers;
  at least one re-run must have happened).

Default: 3 rounds × 120 reports from 30 riders. Long mode, `RIDER_LONG_TESTS=1`: 20 rounds × 1 000 reports from
100 riders. `RIDER_CRASH_SEED` picks another seed.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import re
import shutil
import sqlite3
import tempfile
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.services.container import open_services
from bot.standin.server import StandIn
from bot.store import reports as report_store
from tests import pgcluster
from tests.childproc import BotChild
from tests.reporting import jpeg
from tests.riderchat import (
    ACK,
    GRID_WORKERS,
    action_of,
    answer_data,
    bind_grid_workers,
    bot_messages_after,
    category_data,
    community_point,
    inline,
    newest_seen,
)

LONG = os.environ.get("RIDER_LONG_TESTS") == "1"
ROUNDS = 20 if LONG else 3
REPORTS = 1000 if LONG else 120
RIDERS = 100 if LONG else 30
SEED = int(os.environ.get("RIDER_CRASH_SEED", "20261126"))
TOKEN = "555000111:CRASH-test-token-0123456789abcdef"
STEP_TIMEOUT = 6.0 if LONG else 3.0  # a step unanswered this long after a kill: the answer died with the bot; recover
SLOW_TIMEOUT = 60.0  # a step unanswered this long with the bot alive all along (overloaded machine): recover too

# ---------------------------------------------------------------------------------------------- the child


class Bot(BotChild):
    """The child process running the bot (tests/crashbot.py), with what the riders and the checks need to know of
    its kills and restarts."""

    def __init__(self, config: dict[str, Any], directory: Path) -> None:
        super().__init__("tests.crashbot", config, directory, "crashbot")
        self.up = asyncio.Event()
        self.kills: list[dict] = []  # {"at": time of the kill, "restarted": time the new child was spawned}
        self.starts = 0

    async def start(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        await super().start(timeout)
        self.starts += 1
        if self.kills and "restarted" not in self.kills[-1]:
            self.kills[-1]["restarted"] = self.started_at
        self.up.set()

    async def kill(self) -> float:
        self.assert_alive()
        self.up.clear()
        self.kills.append({"at": time.time()})
        return await super().kill()

    def assert_alive(self) -> None:
        assert self.alive, f"the bot died by itself:\n{self.log_tail()}"

    def reruns(self) -> set[int]:
        return {int(n) for n in re.findall(r"re-running interrupted update (\d+)", self.log_text())}

    def dropped_redeliveries(self) -> set[int]:
        return {int(n) for n in re.findall(r"dropped redelivered update (\d+)", self.log_text())}


# ---------------------------------------------------------------------------------------------- a rider


@dataclass
class Rider:
    standin: StandIn
    user_id: int
    bot: Bot
    rng: random.Random
    acks: list[str] = field(default_factory=list)
    seen_id: int = 0  # the newest bot message id already acted upon
    recoveries: int = 0
    filed: int = 0

    def _new(self) -> list[dict]:
        return bot_messages_after(self.standin, self.user_id, self.seen_id)

    async def _next_prompt(self) -> dict | None:
        """The bot's newest actionable message after the rider's last action, or None if none comes in time.

        A person waits for a slow answer and acts again only when the bot plainly went away: a step gives up after
        STEP_TIMEOUT only if the bot was killed meanwhile. Giving up on a live but overloaded bot would make the
        rider act on stale prompts (/report over an answer still on its way) and never catch up."""
        loop = asyncio.get_running_loop()
        kills = len(self.bot.kills)
        deadline, slow_deadline = loop.time() + STEP_TIMEOUT, loop.time() + SLOW_TIMEOUT
        while True:
            fresh = self._new()
            for message in reversed(fresh):
                ack = ACK.search(message.get("text") or "")
                if ack and ack.group(1) in self.acks:  # the extra copy a kill can cost (the receipt is an outbox row)
                    continue
                if action_of(message) is not None:
                    self.seen_id = max(m["message_id"] for m in fresh)
                    return message
            now = loop.time()
            gone = len(self.bot.kills) > kills or not self.bot.up.is_set()  # killed since the step began, or down
            if (now >= deadline and gone) or now >= slow_deadline:
                return None
            await asyncio.sleep(0.03)  # cheap polling: see bot_messages_after

    def _tap(self, message: dict, data: str) -> None:
        self.standin.inject_callback(self.user_id, message["message_id"], data)

    def _send_photo(self) -> None:
        colour = (self.rng.randrange(256), self.rng.randrange(256), self.rng.randrange(256))
        self.standin.inject_message(
            self.user_id, photo=jpeg(colour, (32, 24)), caption=f"crash {self.user_id}-{self.filed}", first_name="骑手"
        )

    async def file_one(self) -> None:
        """One report, through whatever the bot asks, until it says 已收到 (then the report is done)."""
        self.seen_id = newest_seen(self.standin, self.user_id, self.seen_id)
        self._send_photo()
        for _ in range(60):
            prompt = await self._next_prompt()
            if prompt is None:  # no answer: the bot died (or is very slow); when it is back, pick up again
                await asyncio.wait_for(self.bot.up.wait(), timeout=120)
                self.recoveries += 1
                self.standin.inject_message(self.user_id, text="/report", first_name="骑手")
                continue
            action = action_of(prompt)
            if action == "done":
                self.acks.append(ACK.search(prompt["text"]).group(1))
                self.filed += 1
                return
            if action == "photo":
                self._send_photo()
            elif action == "location":
                self.standin.inject_message(self.user_id, location=community_point(self.rng), first_name="骑手")
            elif action == "answer":
                data = answer_data(prompt)
                if data is not None:
                    self._tap(prompt, data)
                else:
                    self.standin.inject_message(self.user_id, text="1", first_name="骑手")
            elif action == "category":
                self._tap(prompt, category_data(prompt, self.rng))
            else:  # "new" (not the same problem), "skip" (no more words), "submit"
                self._tap(
                    prompt, next(b for b in inline(prompt) if b["callback_data"] == f"rd:{action}")["callback_data"]
                )
        raise AssertionError(
            f"rider {self.user_id} could not file a report: {self.standin.transcript(self.user_id)[-6:]}"
        )


# ---------------------------------------------------------------------------------------------- checks


def db_read(path: Path, sql: str, params: tuple = ()) -> list[tuple]:
    if pgcluster.backend() == "postgresql":  # the database standing in for the path, through the store
        return pgcluster.read(path, sql, params)
    conn = sqlite3.connect(path, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def integrity(path: Path) -> str:
    if pgcluster.backend() == "postgresql":  # pages are the server's business; rows must have their parents
        return pgcluster.integrity(path)
    return db_read(path, "PRAGMA integrity_check")[0][0]


def due_now() -> str:
    """The outbox's own time stamp format (UTC): rows with `next_at` later than this are not due yet (a deadline
    reminder held back by quiet hours, a retry waiting for its back-off)."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def open_due(path: Path) -> int:
    """Rows due now, and receipts at any time (one held back for the door that was killed is sent by the outbox)."""
    sql = (
        "SELECT COUNT(*) FROM outbox WHERE status IN ('pending', 'sending')"
        " AND (next_at <= ? OR idem_key LIKE '%:receipt')"
    )
    return db_read(path, sql, (due_now(),))[0][0]


async def drained(path: Path, timeout: float) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        open_rows = open_due(path)
        if open_rows == 0:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"{open_rows} due outbox rows still not sent after {timeout:g}s")
        await asyncio.sleep(0.1)


async def quiet_snapshot(standin: StandIn, path: Path) -> list[tuple]:
    """The outbox rows at a moment when nothing due is open and the stand-in got no message meanwhile. The bot
    keeps running (the deadline watcher may queue a reminder at any time), so rows and chats are read until they
    agree."""
    chats = sorted(GRID_WORKERS.values())

    def sizes() -> list[int]:
        return [len(standin._chats[c].entries) if c in standin._chats else 0 for c in chats]

    for _ in range(100):
        before = sizes()
        rows = db_read(path, "SELECT id, idem_key, address, status, result_ref, next_at FROM outbox ORDER BY id")
        if before == sizes() and not any(r[3] in ("pending", "sending") and r[5] <= due_now() for r in rows):
            return rows
        await asyncio.sleep(0.2)
    raise AssertionError("the outbox never stood still for a check")


def signature_of_message(message: dict) -> tuple:
    if "photo" in message:
        return ("photo", message.get("caption", ""))
    if "venue" in message:
        return ("venue", message["venue"]["title"], message["venue"]["address"])
    if "location" in message:
        return ("location",)
    return ("text", message.get("text", ""))


def check_outbox(standin: StandIn, rows: list[tuple], kills: int) -> dict[str, Any]:
    bad = [r[:4] for r in rows if r[3] != "sent" and not (r[3] == "pending" and r[5] > due_now())]
    assert not bad, f"outbox rows not sent: {bad[:10]}"
    rows = [r for r in rows if r[3] == "sent"]
    by_chat: dict[int, list[tuple]] = defaultdict(list)
    for row in rows:
        by_chat[int(row[2])].append(row)
    extras = 0
    for chat, chat_rows in by_chat.items():
        messages = {m["message_id"]: m for m in standin.bot_messages(chat)}
        recorded = set()
        for row in chat_rows:
            ref = int(row[4])
            assert ref in messages, f"outbox row {row[0]} says message {ref} in chat {chat}; it is not there"
            recorded.add(ref)
        if chat not in GRID_WORKERS.values():
            continue  # riders' chats also hold the bot's direct answers; there, only the recorded ids are checked
        for message_id, message in messages.items():
            if message_id in recorded:
                continue
            twin = messages.get(message_id + 1)
            assert twin is not None and message_id + 1 in recorded, f"message {message_id} in {chat} is no copy"
            assert signature_of_message(twin) == signature_of_message(message), f"{message} is not a copy of {twin}"
            extras += 1
    assert extras <= kills, f"{extras} extra copies after {kills} kills: at most one per kill"
    return {"rows": len(rows), "extra_copies": extras}


def check_reports(standin: StandIn, path: Path, riders: list[Rider]) -> dict[str, Any]:
    reports = db_read(
        path,
        "SELECT r.id, u.external_id,"
        " (SELECT COUNT(*) - COUNT(DISTINCT p.file_ref) FROM report_photos p WHERE p.report_id = r.id),"
        " (SELECT COUNT(*) FROM report_photos p WHERE p.report_id = r.id),"
        " (SELECT COUNT(*) FROM outbox o WHERE o.idem_key LIKE 'r' || r.id || ':v%:fwd:%')"
        " FROM reports r JOIN users u ON u.id = r.reporter_id",
    )
    by_ref = {f"SP-{r[0]:06d}": r for r in reports}
    for rider in riders:
        for ref in rider.acks:
            assert ref in by_ref, f"{ref} was acknowledged to rider {rider.user_id} but is not in the database"
            assert by_ref[ref][1] == str(rider.user_id), f"{ref} belongs to someone else"
    acked = [ref for rider in riders for ref in rider.acks]
    assert len(acked) == len(set(acked)), "a report number was acknowledged twice"
    # "已收到" is durable: every stored report's rider got its receipt, even when a kill came right after COMMIT.
    told = {
        (ref, str(rider.user_id))
        for rider in riders
        for message in standin.bot_messages(rider.user_id)
        for ref in ACK.findall(message.get("text") or "")
    }
    untold = [ref for ref, r in by_ref.items() if (ref, r[1]) not in told]
    assert not untold, f"stored reports whose rider was never told: {untold[:10]}"
    # Each photo message has its own file_id; a photo update handled twice would attach the same one twice. (A rider
    # may legitimately send a second photo: acting on a stale "send a photo" after an unanswered step.)
    twice = [r[0] for r in reports if r[2] != 0]
    assert not twice, f"reports holding one photo message twice (an update handled twice): {twice[:10]}"
    assert all(r[4] >= 2 for r in reports), "a report without its forward (card + map pin)"
    cards: dict[str, int] = defaultdict(int)
    for chat in GRID_WORKERS.values():
        for message in standin.bot_messages(chat):
            for ref in re.findall(r"SP-\d+", message.get("caption", "")):
                cards[ref] += 1
    missing = [ref for ref in by_ref if cards[ref] == 0]
    assert not missing, f"reports never forwarded to a worker: {missing[:10]}"
    return {"reports": len(reports), "acknowledged": len(acked), "with_2+_photos": sum(r[3] > 1 for r in reports)}


def check_redelivery(calls: list[dict], kills: list[dict]) -> tuple[set[int], set[int]]:
    """What the bot fetched but had not confirmed when it was killed is fetched again after the restart.
    Returns (unconfirmed at a kill, everything a killed child had fetched)."""
    polls = [c for c in calls if c["method"] == "getUpdates"]
    unconfirmed_all: set[int] = set()
    fetched_all: set[int] = set()
    for kill in kills:
        # Everything that reached the stand-in before the new child was spawned came from the killed one (requests
        # it wrote just before dying can arrive a moment after the kill).
        before = [c for c in polls if c["ts"] < kill["restarted"]]
        after = [c for c in polls if c["ts"] >= kill["restarted"] and c.get("ok")]
        offsets = [int(c["params"]["offset"]) for c in before if c["params"].get("offset") is not None]
        confirmed_below = max(offsets, default=0)
        fetched = {u["update_id"] for c in before if c.get("ok") for u in c.get("result") or []}
        unconfirmed = {u for u in fetched if u >= confirmed_below}
        again = {u["update_id"] for c in after for u in c.get("result") or []}
        assert unconfirmed <= again, f"never delivered again after the restart: {sorted(unconfirmed - again)[:10]}"
        unconfirmed_all |= unconfirmed
        fetched_all |= fetched
    return unconfirmed_all, fetched_all


# ---------------------------------------------------------------------------------------------- the test


async def prepare(db_path: Path) -> None:
    """Migrate and seed the database, and bind one grid worker to each grid of 蝶梦社区. Every category gets a week
    to accept: the long mode runs for an hour and more, and from 15 minutes on the deadline reminders of thousands
    of reports would keep the workers' chats busy for good, so the outbox would never stand still for a check
    (the reminders' own crash behaviour is tests/test_deadlines.py's)."""
    services = await open_services(Settings(db_path=db_path, demo_people=False, http_port=None))
    try:
        await bind_grid_workers(services)
        async with services.db.transaction() as conn:
            for limits in await report_store.all_category_limits(services.db):
                week = 7 * 24 * 60
                await report_store.set_category_limits(
                    conn, limits["category"], {"accept_minutes": week, "resolve_minutes": 2 * week}
                )
    finally:
        await services.close()


async def test_sigkill_during_a_burst_loses_no_acknowledged_report() -> None:
    # Not tmp_path: pytest keeps only the last three session directories, so another pytest run on the machine
    # could delete this one under a long run. Kept (and printed) if the test fails.
    tmp_path = Path(tempfile.mkdtemp(prefix="rider-crash-"))
    passed = False
    db_path = tmp_path / "rider.sqlite3"
    await prepare(db_path)
    standin = StandIn(token=TOKEN)
    # Slow photo downloads: many updates are half-handled when a kill lands (they must be re-run, not lost).
    standin.faults.download_delay = 0.3
    await standin.start()
    config = {"token": TOKEN, "base_url": standin.base_url, "base_file_url": standin.base_file_url,
              "db_path": str(db_path)}  # fmt: skip
    bot = Bot(config, tmp_path)
    rng = random.Random(SEED)
    riders = [Rider(standin, 100_001 + i, bot, random.Random(rng.random())) for i in range(RIDERS)]
    summary: list[dict] = []
    unconfirmed: set[int] = set()
    reruns: set[int] = set()
    work: asyncio.Future | None = None
    try:
        await bot.start()
        for round_no in range(ROUNDS):
            kills_before = len(bot.kills)
            calls_from = len(standin.calls)
            quota = [REPORTS // RIDERS + (1 if i < REPORTS % RIDERS else 0) for i in range(RIDERS)]

            async def burst(rider: Rider, n: int) -> None:
                for _ in range(n):
                    await rider.file_one()

            acked_before = sum(len(r.acks) for r in riders)
            work = asyncio.gather(*(burst(r, n) for r, n in zip(riders, quota, strict=True)))
            kill_after = rng.randint(REPORTS // 10, REPORTS * 9 // 10)
            while sum(len(r.acks) for r in riders) - acked_before < kill_after and not work.done():
                bot.assert_alive()
                await asyncio.sleep(0.005)  # polling the riders' progress: the kill lands at a random step
            await asyncio.sleep(rng.uniform(0, 0.2))
            await bot.kill()
            assert integrity(db_path) == "ok", "after SIGKILL during the burst"
            await bot.start()
            deadline = time.monotonic() + (1200 if LONG else 120)
            while not work.done():
                bot.assert_alive()
                assert time.monotonic() < deadline, "the burst did not finish"
                await asyncio.sleep(0.1)
            await work
            if rng.random() < 0.5:  # kill it again while the outbox is (perhaps) still sending
                await asyncio.sleep(rng.uniform(0, 0.3))
                await bot.kill()
                assert integrity(db_path) == "ok", "after SIGKILL while draining"
                await bot.start()
            await drained(db_path, timeout=300 if LONG else 60)
            await asyncio.sleep(0.3)  # the last sends' answers reach the stand-in's chat state
            assert integrity(db_path) == "ok"
            stats = {"round": round_no, "kills": len(bot.kills)}
            stats |= check_reports(standin, db_path, riders)
            stats |= check_outbox(standin, await quiet_snapshot(standin, db_path), len(bot.kills))
            again, fetched = check_redelivery(standin.calls[calls_from:], bot.kills[kills_before:])
            unconfirmed |= again
            dropped = bot.dropped_redeliveries()
            assert dropped <= unconfirmed, f"dropped as seen but never fetched before a kill: {dropped - unconfirmed}"
            # Every update a killed child took in was recorded before Telegram could count it as received (none
            # lost while queued), and every one was finished — by it, or re-run by the next child.
            seen = {int(r[0]) for r in db_read(db_path, "SELECT key FROM inbound_seen WHERE channel = 'telegram'")}
            lost = fetched - seen
            assert not lost, f"updates taken in but never recorded (lost at a kill): {sorted(lost)[:10]}"
            done = {int(r[0]) for r in db_read(db_path, "SELECT key FROM inbound_seen WHERE done = 1")}
            unfinished = fetched - done
            assert not unfinished, f"updates interrupted by a kill and never finished: {sorted(unfinished)[:10]}"
            reruns |= bot.reruns()
            stats |= {
                "unconfirmed_at_kills": len(unconfirmed),
                "dropped_as_already_seen": len(dropped),
                "rerun_after_kill": len(reruns),
            }
            stats["rider_recoveries"] = sum(r.recoveries for r in riders)
            summary.append(stats)
            print(stats)
            standin.calls.clear()  # keep the stand-in's memory bounded in long mode
        # Kills made some riders start over; every report they were told about is there, forwarded.
        assert sum(len(r.acks) for r in riders) == ROUNDS * REPORTS
        assert reruns, "no kill landed inside a handler: the re-run path was not exercised"
        shutil.rmtree(tmp_path, ignore_errors=True)
        passed = True
    finally:
        if work is not None and not work.done():
            work.cancel()
            with contextlib.suppress(BaseException):
                await work
        await bot.stop()
        await standin.stop()
        if not passed:
            print(f"crash test files kept in {tmp_path}")
