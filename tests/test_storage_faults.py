"""The disk fills up, or the database turns read-only: the rider is told honestly, nothing half-done is kept, no
false "已收到" is sent, and the same draft goes through once the storage is back.

Both faults are made on the bot's own SQLite connection, through the real stack (PTB polling the stand-in):

- **Disk full**: `PRAGMA max_page_count` = the current page count, then a filler table takes every free page.
  From then on any write that needs a new page fails with SQLITE_FULL ("database or disk is full") — the same
  error SQLite raises when the file system is full. Writes that fit in pages already allocated still succeed,
  as they would on a full disk, so the rider files reports until one no longer fits.
- **Read-only**: `PRAGMA query_only = ON`: every write fails with SQLITE_READONLY ("attempt to write a readonly
  database"), as on a file or mount that became read-only.

On PostgreSQL (the second pass) the same promises are proved with the server's faults, made from outside the bot
(tests/pgcluster.py): the database turned read-only (`ALTER DATABASE … SET default_transaction_read_only = on`,
the bot's connections ended so that its pool reconnects into read-only sessions), and the connection lost in the
middle of the submit transaction (a trigger ends its own backend on the report's INSERT), then every connection
of the bot ended, and the disk full for real: the database moved onto a small file system that then fills up
(tests/pgdiskfull.py).

See docs/RELIABILITY.md, "Storage faults".
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.store.db import Database
from bot.texts import t
from tests import pgcluster
from tests.chat import ChatUser, button, buttons
from tests.pgdiskfull import PgDiskFull
from tests.reporting import bind, grid_at, jpeg

DISK_FULL = "SQLite's own full-disk error on a transaction; PostgreSQL's full disk: the submit test below"
postgresql_only = pytest.mark.skipif(
    pgcluster.backend() != "postgresql", reason="PostgreSQL's connection to lose; the PostgreSQL pass runs it"
)

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids
STORAGE_TEXT = t("zh-CN", "error.storage")
WORDS = "楼道里堆满了纸箱和电动车，消防通道完全堵死，晚上还有人在这里飞线充电，非常危险，请尽快处理。" * 5


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, reports_per_hour=1000)


# ---------------------------------------------------------------------------------------------- helpers


async def counts(db: Database) -> dict[str, int]:
    tables = ("reports", "report_photos", "report_events", "report_followers", "outbox")
    return {name: (await db.fetchone(f"SELECT COUNT(*) FROM {name}"))[0] for name in tables}


async def draft_rows(db: Database, rider: ChatUser) -> int:
    row = await db.fetchone(
        "SELECT COUNT(*) FROM dialogs d JOIN users u ON u.id = d.user_id"
        " WHERE u.channel = 'telegram' AND u.external_id = ? AND d.kind = 'report'",
        (str(rider.user_id),),
    )
    return row[0]


async def to_summary(rider: ChatUser, where: tuple[float, float], words: str = WORDS) -> dict:
    """Photo with words → place → category (→ "not the same problem") : the summary with the submit button."""
    first = await rider.send(photo=jpeg(), caption=words, replies=2)
    assert "隐患在哪里" in first[-1]["text"], first
    [categories] = await rider.share_location(*where)
    _, [answer] = await rider.tap(categories, "消防通道堵塞")
    if "是同一个问题吗" in answer["text"]:
        _, [answer] = await rider.tap(answer, "不是")
    assert "请确认上报内容" in answer["text"], answer
    return answer


async def tap_submit(rider: ChatUser, summary: dict) -> tuple[dict, list[dict]]:
    """Tap ✅ 提交 and return (the button's answer, every bot message that arrives within 0.5 s after it)."""
    before = rider.standin.last_seq(rider.user_id)
    query = rider.standin.inject_callback(
        rider.user_id, summary["message_id"], button(summary, "提交")["callback_data"]
    )
    answer = await rider.standin.wait_for_callback_answer(query, timeout=8)

    def said() -> list[dict]:
        later = [m for m in rider.standin.bot_messages(rider.user_id) if m["_seq"] > before]
        return [m for m in later if m["message_id"] != summary["message_id"]]

    if answer.get("text") != STORAGE_TEXT:
        # Filed: its 已收到 is an outbox row of the same commit. Right after the database came back (PostgreSQL:
        # every session ended) the process first takes the dispatcher's lock again, so the receipt may come a few
        # seconds after the tap's answer: wait for it (bounded) rather than a fixed moment.
        for _ in range(200):
            if any("已收到" in (m.get("text") or "") for m in said()):
                break
            await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # anything the bot would still say about this tap
    return answer, said()


class DiskFull:
    """Caps the bot's database at its current size and fills every free page (see the module docstring)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.normal_max: int | None = None

    async def fill(self) -> None:
        conn = self.db.conn
        if self.normal_max is None:
            self.normal_max = (await self.db.fetchone("PRAGMA max_page_count"))[0]
            async with self.db.transaction() as c:
                await c.execute("CREATE TABLE IF NOT EXISTS test_disk_filler (b BLOB)")
        pages = (await self.db.fetchone("PRAGMA page_count"))[0]
        await conn.execute(f"PRAGMA max_page_count = {pages}")
        for size in (1 << 20, 1 << 16, 3000, 400):  # big blobs first, then page-sized, then scraps
            while True:
                try:
                    async with self.db.transaction() as c:
                        await c.execute("INSERT INTO test_disk_filler VALUES (zeroblob(?))", (size,))
                except sqlite3.OperationalError as exc:
                    assert "full" in str(exc), exc
                    break

    async def lift(self) -> None:
        if self.normal_max is None:
            return
        await self.db.conn.execute(f"PRAGMA max_page_count = {self.normal_max}")

    async def close(self) -> None:
        await self.lift()


def disk_full(db: Database) -> DiskFull | PgDiskFull:
    """SQLite: its pages capped and filled; PostgreSQL: a tablespace on a small file system, filled up."""
    return PgDiskFull(db) if db.dialect == "postgresql" else DiskFull(db)


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.sqlite_only(DISK_FULL)
async def test_a_full_transaction_reports_the_full_disk_and_leaves_the_connection_usable(tmp_path: Path) -> None:
    """SQLite rolls a transaction back by itself on SQLITE_FULL; `transaction()` must surface *that* error (not
    "cannot rollback - no transaction is active") and leave the one shared connection ready for the next write."""
    async with Database(tmp_path / "x.sqlite3") as db:
        async with db.transaction() as conn:
            await conn.execute("CREATE TABLE t (b BLOB)")
        pages = (await db.fetchone("PRAGMA page_count"))[0]
        await db.conn.execute(f"PRAGMA max_page_count = {pages}")
        with pytest.raises(sqlite3.OperationalError, match="database or disk is full"):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (1)")  # fits in the table's page
                await conn.execute("INSERT INTO t VALUES (zeroblob(100000))")  # needs new pages
        assert not db.conn.in_transaction
        assert (await db.fetchone("SELECT COUNT(*) FROM t"))[0] == 0, "the whole transaction rolled back"
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (2)")
        await db.conn.execute("PRAGMA query_only = ON")
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            async with db.transaction() as conn:
                await conn.execute("INSERT INTO t VALUES (3)")
        await db.conn.execute("PRAGMA query_only = OFF")
        async with db.transaction() as conn:
            await conn.execute("INSERT INTO t VALUES (4)")
        assert [r[0] for r in await db.fetchall("SELECT b FROM t")] == [2, 4]


class ErrorLog(logging.Handler):
    """What the error handler (handlers.telegram.fallback) logs, with the exception."""

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "handlers.telegram.fallback" and record.exc_info:
            self.records.append(record)

    def last_raised_in(self, function: str) -> bool:
        """Whether the last error the error handler logged was raised inside `function`."""
        if not self.records:
            return False
        exc_info = self.records[-1].exc_info
        assert exc_info is not None
        tb = exc_info[2]
        names = []
        while tb is not None:
            names.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        return function in names


@pytest.fixture
def error_log() -> Iterator[ErrorLog]:
    handler = ErrorLog()
    logger = logging.getLogger("handlers.telegram.fallback")
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


@pytest.fixture
async def disk(runtime: Runtime) -> AsyncIterator[DiskFull | PgDiskFull]:
    full = disk_full(runtime.services.db)
    try:
        yield full
    finally:
        await full.close()


async def test_disk_full_at_submit_is_told_honestly_and_the_same_draft_goes_through_later(
    runtime: Runtime, error_log: ErrorLog, disk: DiskFull | PgDiskFull
) -> None:
    standin, db = runtime.standin, runtime.services.db
    assert standin is not None
    rider = ChatUser(standin, 1001, "骑手小王")
    worker = ChatUser(standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    acknowledged: list[str] = []
    failed = None
    for i in range(40):  # each report that still fits uses up room; one of them will not fit
        await disk.lift()
        summary = await to_summary(rider, (HERE[0], HERE[1] - 0.0075 + i * 0.0007))
        await disk.fill()
        before = await counts(db)
        answer, said = await tap_submit(rider, summary)
        if answer.get("text") == STORAGE_TEXT:
            assert said == [] and await counts(db) == before
            if error_log.last_raised_in("_submit"):  # the case to prove: the commit itself ran out of room
                failed = (summary, answer, said, before)
                break
            await disk.lift()  # an earlier write of this tap (the duplicate guard) had no room: try again
            answer, said = await tap_submit(rider, summary)
        [received] = said
        assert "已收到，编号 SP-" in received["text"], received
        acknowledged.append(received["text"].split("编号 ")[1].split("。")[0])
    assert failed is not None, "the database never filled up during a submit"
    summary, answer, said, before = failed
    assert answer["show_alert"], "a clear pop-up, not a toast"
    assert said == [], f"nothing else may be said about a report that was not saved: {said}"
    assert await counts(db) == before, "no report, photo, event or outbox row from the failed submit"
    assert await draft_rows(db, rider) == 1, "the draft is kept"
    assert next(b["text"] for b in buttons(summary)).endswith("提交"), "the submit button is still there"
    # Writing still fails while the disk is full; then space comes back and the same button works.
    await disk.lift()
    answer, [received] = await tap_submit(rider, summary)
    assert "已收到，编号 SP-" in received["text"], received
    ref = received["text"].split("编号 ")[1].split("。")[0]
    row = await db.fetchone("SELECT description, status FROM reports WHERE id = ?", (int(ref.split("-")[1]),))
    assert row is not None and row["description"] == WORDS[:500] and row["status"] == "forwarded"
    assert await draft_rows(db, rider) == 0
    # every acknowledged report, including the one filed after the fault, reaches the worker once
    assert runtime.services.outbox is not None
    await runtime.services.outbox.wait_idle(timeout=15)
    cards = [m for m in standin.bot_messages(worker.user_id) if "photo" in m]
    for acked in [*acknowledged, ref]:
        assert sum(acked in m.get("caption", "") for m in cards) == 1, acked


async def test_a_read_only_database_gets_the_same_honest_answer_everywhere(runtime: Runtime) -> None:
    standin, db = runtime.standin, runtime.services.db
    assert standin is not None
    rider = ChatUser(standin, 1001, "骑手小王")
    worker = ChatUser(standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    summary = await to_summary(rider, HERE, words="消防通道被堵")
    before = await counts(db)
    await pgcluster.read_only(db, True)
    try:
        answer, said = await tap_submit(rider, summary)
        assert answer["text"] == STORAGE_TEXT and answer["show_alert"]
        assert said == []
        # a message (not a button) gets the same words as a chat message, and nothing else
        [reply] = await rider.send("米兰社区")
        assert reply["text"] == STORAGE_TEXT
        await asyncio.sleep(0.3)
        assert standin.bot_messages(rider.user_id)[-1]["text"] == STORAGE_TEXT
        assert await counts(db) == before
    finally:
        await pgcluster.read_only(db, False)
    assert await draft_rows(db, rider) == 1
    answer, [received] = await tap_submit(rider, summary)
    assert "已收到，编号 SP-" in received["text"]
    ref = received["text"].split("编号 ")[1].split("。")[0]
    assert runtime.services.outbox is not None
    await runtime.services.outbox.wait_idle(timeout=15)
    cards = [m for m in standin.bot_messages(worker.user_id) if "photo" in m]
    assert sum(ref in m.get("caption", "") for m in cards) == 1


@postgresql_only
async def test_a_lost_connection_is_told_honestly_and_the_bot_reconnects_by_itself(
    settings: Settings, clock: ManualClock, pg_url: str, error_log: ErrorLog, caplog: pytest.LogCaptureFixture
) -> None:
    """The connection dies inside the submit transaction (after the report's INSERT began): the rider gets the same
    "could not save" as for a full disk, nothing of the report is kept, the draft is. The server then refuses every
    connection for a while: the same answer to every step. Then every connection of the bot is ended (a restarted
    server): the process reconnects by itself and the same ✅ 提交 files the report. The URL carries a password; it
    appears in no log record."""
    password = "pw-never-logged-7Qx"
    url = pg_url.replace("://", f"://{password}@", 1) if "@" not in pg_url else pg_url.replace("@", f":{password}@", 1)
    caplog.set_level(logging.DEBUG)
    runtime = Runtime(replace(settings, database_url=url), clock)
    await runtime.start(poll_timeout=1)
    try:
        standin, db = runtime.standin, runtime.services.db
        assert standin is not None and db.dialect == "postgresql"
        rider = ChatUser(standin, 1001, "骑手小王")
        worker = ChatUser(standin, 2001, "网格员老李")
        await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
        summary = await to_summary(rider, HERE, words="消防通道被堵")
        before = await counts(db)
        await pgcluster.kill_inside(pg_url, "reports")
        try:
            answer, said = await tap_submit(rider, summary)
        finally:
            await pgcluster.heal(pg_url, "reports")
        assert answer["text"] == STORAGE_TEXT and answer["show_alert"], answer
        assert said == [], f"nothing else may be said about a report that was not saved: {said}"
        assert error_log.last_raised_in("_submit"), "the connection was lost inside the submit transaction"
        assert await counts(db) == before, "no report, photo, event or outbox row from the lost transaction"
        assert await draft_rows(db, rider) == 1, "the draft is kept"
        # the server is down for a while (no connection accepted): every step gets the same honest answer
        await pgcluster.set_reachable(pg_url, False)
        try:
            [reply] = await rider.send("米兰社区")
            assert reply["text"] == STORAGE_TEXT, reply
            answer, said = await tap_submit(rider, summary)
            assert answer["text"] == STORAGE_TEXT and said == []
        finally:
            await pgcluster.set_reachable(pg_url, True)
        assert await counts(db) == before
        # a restarted server: every connection the bot had is gone
        await rider.send("米兰社区")  # the pool holds connections again
        assert await pgcluster.terminate(pg_url) >= 1
        for _ in range(3):  # a connection the pool has not yet seen die may cost one more honest answer
            answer, said = await tap_submit(rider, summary)
            if answer.get("text") != STORAGE_TEXT:
                break
            assert said == []
        [received] = said
        assert "已收到，编号 SP-" in received["text"], received
        ref = received["text"].split("编号 ")[1].split("。")[0]
        assert runtime.services.outbox is not None
        await runtime.services.outbox.wait_idle(timeout=15)
        cards = [m for m in standin.bot_messages(worker.user_id) if "photo" in m]
        assert sum(ref in m.get("caption", "") for m in cards) == 1
        assert (await counts(db))["reports"] == before["reports"] + 1
    finally:
        await runtime.stop()
    logged = caplog.text + "".join(str(r.exc_info) for r in caplog.records if r.exc_info)
    assert caplog.records and password not in logged
    assert password not in repr(db)
