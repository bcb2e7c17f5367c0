"""The poller's getUpdates answer is recorded in one database round trip (handlers/telegram/guard.py, `IntakeBot` and
`Gate.arrived`; bot/services/guard.py `InboundLedger.admit_many`), and every promise of recording one update at a
time still holds: each update recorded before Telegram is told, a redelivery dropped, a flooder's updates spending
their budget in update order (told once, then ignored), an invite code never sent to the database, and a batch
that cannot be recorded answering each of its updates with the storage error.

The database calls are counted at the drivers (aiosqlite's hop to its thread, asyncpg's statement methods), for
the calls made by PTB's polling task only: the handlers' own calls run in other tasks.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import replace
from typing import Any
from unittest import mock

import aiosqlite
import asyncpg

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.texts import t
from tests import pgcluster
from tests.chat import ChatUser, settle

STORAGE_TEXT = t("zh-CN", "error.storage")
SLOW_DOWN = t("zh-CN", "flood.slow_down")
CODE = "K7P2-9XQM-4HTW-B3ZD"  # an invite code's shape (unknown to this bot: the person is told so)
_PG_METHODS = ("fetch", "fetchval", "fetchrow", "fetchmany", "execute", "executemany", "prepare")


def _by_poller() -> bool:
    """Is this call made by PTB's polling loop (its getUpdates and its puts into the update queue)?"""
    task = asyncio.current_task()
    if task is None:
        return False
    return task.get_name() == "Updater:start_polling:polling_task" or task.get_coro().__qualname__.endswith(
        "polling_action_cb"
    )


class DriverCalls:
    """Every call into a database driver while active, with what it sent, marked if the poller made it."""

    def __init__(self) -> None:
        self.calls: list[tuple[bool, str]] = []

    @property
    def by_poller(self) -> list[str]:
        return [sent for poller, sent in self.calls if poller]

    @contextlib.contextmanager
    def counting(self) -> Iterator[DriverCalls]:
        def spy(original: Any) -> Any:
            async def counted(*args: Any, **kwargs: Any) -> Any:
                self.calls.append((_by_poller(), repr(args[1:])))
                return await original(*args, **kwargs)

            return counted

        with contextlib.ExitStack() as stack:
            stack.enter_context(mock.patch.object(aiosqlite.Connection, "_execute", spy(aiosqlite.Connection._execute)))
            for name in _PG_METHODS:
                original = getattr(asyncpg.connection.Connection, name)
                stack.enter_context(mock.patch.object(asyncpg.connection.Connection, name, spy(original)))
            yield self


def _message(update_id: int, user_id: int, text: str, name: str) -> dict:
    entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}] if text.startswith("/") else []
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id % 1_000_000, "date": 1764122400, "text": text, "entities": entities,
            "chat": {"id": user_id, "type": "private", "first_name": name},
            "from": {"id": user_id, "is_bot": False, "first_name": name},
        },
    }  # fmt: skip


def _fetched_together(runtime: Runtime, ids: list[int]) -> bool:
    """Did one getUpdates answer hand out all of `ids`?"""
    assert runtime.standin is not None
    for call in runtime.standin.calls:
        if call["method"] == "getUpdates" and call["ok"]:
            got = {u["update_id"] for u in call.get("result") or []}
            if set(ids) <= got:
                return True
    return False


async def _warm_up(runtime: Runtime) -> None:
    """The process's first recording prunes the ledger, and on PostgreSQL learns the statement's parameter types
    (one prepare per statement per process): neither is what the tests below count."""
    assert runtime.standin is not None
    [reply] = await ChatUser(runtime.standin, 999, "暖场").send("/help")
    assert reply.get("text")


async def test_a_getupdates_batch_is_recorded_with_one_database_call(runtime: Runtime) -> None:
    standin, db = runtime.standin, runtime.services.db
    assert standin is not None
    await _warm_up(runtime)
    base = 700_000_000
    updates = [_message(base + i, 3001 + i % 4, ("/help", "米兰社区")[i // 4], f"骑手{i % 4}") for i in range(8)]
    calls = DriverCalls()
    with calls.counting():
        for update in updates:  # no await in between: one getUpdates answer holds all of them
            standin.inject_update(update)
        await settle(runtime)
    ids = [u["update_id"] for u in updates]
    assert _fetched_together(runtime, ids)
    assert len(calls.by_poller) == 1, f"the batch took {len(calls.by_poller)} database calls: {calls.by_poller}"
    rows = await db.fetchall(
        "SELECT key, done FROM inbound_seen WHERE channel = 'telegram' AND key IN (?, ?, ?, ?, ?, ?, ?, ?)",
        [str(i) for i in ids],
    )
    assert sorted(int(r[0]) for r in rows) == ids and all(int(r[1]) == 1 for r in rows)
    for i in range(4):
        texts = [m.get("text", "") for m in standin.bot_messages(3001 + i)]
        assert len(texts) == 2 and "米兰社区" in texts[1], texts  # /help's answer, then the finder's


async def _scenario(runtime: Runtime, base: int, users: int, *, batch: bool) -> tuple[dict[str, list[str]], list[str]]:
    """A flooder's five messages (burst 3), a quiet rider, an invite code and a redelivery of an update recorded
    before (by an earlier process): one getUpdates answer (`batch`), or one update per getUpdates. Returns every
    role's answers (sorted: a refusal's warning may overtake the admitted messages' answers) and the database
    calls the poller made."""
    standin, db = runtime.standin, runtime.services.db
    assert standin is not None
    flooder, quiet, joiner = users, users + 1, users + 2
    redelivered = base + 5
    await db.write(
        "INSERT INTO inbound_seen (channel, key, at, done, payload, boot, chat, seq)"
        " VALUES ('telegram', ?, '2026-11-26T02:00:00+00:00', 1, NULL, 'earlier', ?, ?)",
        (str(redelivered), str(quiet), redelivered),
    )
    script = [
        (flooder, "/help"), (quiet, "/help"), (flooder, "/help"), (joiner, f"/join {CODE}"), (flooder, "/start"),
        (quiet, "/report"), (flooder, "/start"), (flooder, "/start"),
    ]  # fmt: skip
    names = {flooder: "刷屏者", quiet: "小王", joiner: "新人"}  # the same in both runs: answers may greet by name
    updates = [_message(base + i, user, text, names[user]) for i, (user, text) in enumerate(script)]
    calls = DriverCalls()
    with calls.counting():
        for update in updates:
            standin.inject_update(update)
            if not batch:
                await settle(runtime)  # fetched, recorded, handled, and confirmed by the next getUpdates
        await settle(runtime)
    assert _fetched_together(runtime, [u["update_id"] for u in updates]) == batch
    answers = {
        role: sorted(m.get("text", "") for m in standin.bot_messages(user))
        for role, user in (("flooder", flooder), ("quiet", quiet), ("joiner", joiner))
    }
    return answers, calls.by_poller


async def test_a_batch_gives_every_update_the_outcome_it_had_one_at_a_time(
    settings: Settings, clock: ManualClock
) -> None:
    """Same script twice, to different people: one update per getUpdates (as the poller used to record them), then
    all in one getUpdates answer. Same answers, one database call for the batch instead of one per update."""
    runtime = Runtime(replace(settings, flood_burst=3, flood_per_second=0.0001), clock)
    await runtime.start(poll_timeout=1)
    try:
        await _warm_up(runtime)
        one_by_one, calls_one_by_one = await _scenario(runtime, 710_000_000, 5001, batch=False)
        together, calls_together = await _scenario(runtime, 720_000_000, 6001, batch=True)
        assert len(calls_one_by_one) == 8, calls_one_by_one  # one per update, as each had its own getUpdates
        assert len(calls_together) == 1, calls_together
        assert together == one_by_one
        flooder = together["flooder"]
        # 3 admitted in update order (/help, /help, the first /start), the 4th told to slow down, the 5th ignored
        assert len(flooder) == 4 and flooder.count(SLOW_DOWN) == 1, flooder
        help_text = together["quiet"][0]
        assert flooder.count(help_text) == 2, flooder
        assert together["quiet"] == [help_text], "the redelivered /report did not act"
        assert len(together["joiner"]) == 1 and STORAGE_TEXT not in together["joiner"]
        # the invite code never reached the database: the update was recorded without its contents
        assert not any(CODE in sent for sent in calls_one_by_one + calls_together)
    finally:
        await runtime.stop()


async def test_a_batch_that_cannot_be_recorded_answers_each_update_with_the_error(runtime: Runtime) -> None:
    standin, db = runtime.standin, runtime.services.db
    assert standin is not None
    await _warm_up(runtime)
    people = [3101, 3102, 3102, 3103]  # one of them twice: each update gets its own answer
    updates = [_message(730_000_000 + i, user, "/help", "骑手") for i, user in enumerate(people)]
    await pgcluster.read_only(db, True)
    try:
        for update in updates:
            standin.inject_update(update)
        await settle(runtime)
        assert _fetched_together(runtime, [u["update_id"] for u in updates])
        for user in set(people):
            texts = [m.get("text", "") for m in standin.bot_messages(user)]
            assert texts == [STORAGE_TEXT] * people.count(user), texts
    finally:
        await pgcluster.read_only(db, False)
    keys = [str(u["update_id"]) for u in updates]
    recorded = await db.fetchall("SELECT key FROM inbound_seen WHERE key IN (?, ?, ?, ?)", keys)
    assert recorded == [], "nothing of the batch was kept"
    [reply] = await ChatUser(standin, 3101, "骑手").send("/help")
    assert reply["text"] != STORAGE_TEXT
