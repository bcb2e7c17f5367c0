"""The durable outbox through the real stack: Runtime (core + PTB with its AIORateLimiter) sending to the Bot API
stand-in over HTTP on 127.0.0.1, a real SQLite file, and the stand-in's fault injection (429 / 5xx / dropped
connections, blocked users, unknown chats).

What each test proves is listed in docs/RELIABILITY.md. Every wait is bounded. Timestamps compared across the
two sides are wall-clock seconds from the same machine: the stand-in stamps each call as it arrives
(`time.time()`), the outbox stamps `next_at` with `datetime.now(UTC)`.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from datetime import datetime
from itertools import pairwise
from typing import Any

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.outbox import messages as out
from bot.outbox.store import Recipient, enqueue
from bot.reports.actions import DraftAction
from bot.standin.server import StandIn
from bot.store.db import Database
from bot.store.users import User
from tests.reporting import grid_at, jpeg

IN_GRID_1 = (34.2490, 117.2080)  # 蝶梦社区第1网格 of the sample grids
IN_GRID_2 = (34.2540, 117.2080)  # 蝶梦社区第2网格
EPS = 0.005  # seconds of slack for float/µs rounding between the two clocks' readings
SEND_METHODS = ("sendMessage", "sendPhoto", "sendVenue", "sendLocation", "sendDocument")


# ---------------------------------------------------------------------------------------------- helpers


def standin_of(runtime: Runtime) -> StandIn:
    assert runtime.standin is not None
    return runtime.standin


async def push(runtime: Runtime, items: Iterable[tuple[int, str]]) -> list[int]:
    """Queue plain texts (chat, text) in one transaction, in this order; returns their outbox ids."""
    db = runtime.services.db
    keys = []
    async with db.transaction() as conn:
        for chat, body in items:
            key = f"test:{chat}:{body}"
            assert await enqueue(conn, key, Recipient(None, "telegram", str(chat)), out.text(body))
            keys.append(key)
    runtime.services.wake_outbox()
    rows = await db.fetchall(f"SELECT id FROM outbox WHERE idem_key IN ({','.join('?' * len(keys))}) ORDER BY id", keys)
    return [r["id"] for r in rows]


async def outbox_rows(runtime: Runtime, ids: Iterable[int] | None = None) -> list[dict[str, Any]]:
    rows = [dict(r) for r in await runtime.services.db.fetchall("SELECT * FROM outbox ORDER BY id")]
    if ids is not None:
        wanted = set(ids)
        rows = [r for r in rows if r["id"] in wanted]
    return rows


async def until(check: Callable[[], Awaitable[Any]], timeout: float, what: str) -> Any:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"waited {timeout:g}s for {what}")
        await asyncio.sleep(0.02)


async def settled(runtime: Runtime, ids: Iterable[int] | None = None, timeout: float = 20.0) -> list[dict]:  # noqa: ASYNC109
    """Wait until every (chosen) row is 'sent' or 'dead'; fail with the rows that are not."""
    ids = list(ids) if ids is not None else None
    deadline = time.monotonic() + timeout
    while True:
        rows = await outbox_rows(runtime, ids)
        open_rows = [r for r in rows if r["status"] not in ("sent", "dead")]
        if rows and not open_rows:
            return rows
        if time.monotonic() > deadline:
            brief = [(r["id"], r["address"], r["status"], r["attempts"], r["last_error"]) for r in open_rows[:10]]
            raise AssertionError(f"outbox not settled after {timeout:g}s; {len(open_rows)} open: {brief}")
        await asyncio.sleep(0.02)


def payload_sig(row: dict) -> tuple[str, str]:
    payload = json.loads(row["payload"])
    kind = payload["kind"]
    if kind == "photo":
        return "photo", payload.get("caption") or ""
    if kind == "venue":
        return "venue", payload["title"]
    return "text", payload["text"]


def message_sig(message: dict) -> tuple[str, str]:
    if "photo" in message:
        return "photo", message.get("caption", "")
    if "venue" in message:
        return "venue", message["venue"]["title"]
    return "text", message["text"]


def call_sig(call: dict) -> tuple[str, str]:
    params, method = call["params"], call["method"]
    if method == "sendPhoto":
        return "photo", params.get("caption") or ""
    if method == "sendVenue":
        return "venue", params["title"]
    return "text", params.get("text", "")


def sends(standin: StandIn, chat: int | None = None) -> list[dict]:
    """Every send call that reached the stand-in (delivered or not), by arrival time."""
    found = []
    for call in standin.calls:
        if call["method"] not in SEND_METHODS:
            continue
        chat_id = int(call["params"]["chat_id"])
        if chat is not None and chat_id != chat:
            continue
        found.append(
            {
                "chat": chat_id,
                "ts": call["ts"],
                "ok": call["ok"],
                "fault": call.get("fault"),
                "error": call.get("error", ""),
                "acted": "result" in call,  # the stand-in created the message (ok, or dropped after acting)
                "message_id": (call.get("result") or {}).get("message_id"),
                "sig": call_sig(call),
            }
        )
    return sorted(found, key=lambda c: c["ts"])


def by_chat(rows: list[dict]) -> dict[int, list[dict]]:
    chats: dict[int, list[dict]] = defaultdict(list)
    for row in rows:
        chats[int(row["address"])].append(row)
    return chats


def assert_exactly_once_in_order(standin: StandIn, rows: list[dict]) -> None:
    """Each row: status 'sent', exactly one message in its chat, result_ref = that message's id; each chat shows
    the rows' messages in outbox id order and nothing else."""
    assert rows
    for chat, chat_rows in by_chat(rows).items():
        assert [r["status"] for r in chat_rows] == ["sent"] * len(chat_rows), chat_rows
        shown = standin.bot_messages(chat)
        assert [m["message_id"] for m in shown] == [int(r["result_ref"]) for r in chat_rows], (
            f"chat {chat}: messages {[m['message_id'] for m in shown]} vs result_refs "
            f"{[r['result_ref'] for r in chat_rows]}"
        )
        assert [message_sig(m) for m in shown] == [payload_sig(r) for r in chat_rows]
        acted = [c for c in sends(standin, chat) if c["acted"]]
        assert len(acted) == len(chat_rows), f"chat {chat}: {len(acted)} messages made for {len(chat_rows)} rows"


async def identify(runtime: Runtime, user_id: int, name: str) -> User:
    return await runtime.services.users.identify("telegram", str(user_id), name)


async def worker(runtime: Runtime, user_id: int, grid: str) -> User:
    person = await identify(runtime, user_id, f"网格员{user_id}")
    assert await runtime.services.roles.grant(person.id, "worker", grid, by="test")
    return person


async def file_report(
    runtime: Runtime, rider: User, where: tuple[float, float], *, photos: int = 1, answer: bool = True
) -> int:
    """A rider's 随手拍 through the core (as the chat door would call it); returns the committed report's id.
    `answer=False`: the door does not send the receipt at once (the dispatcher does, after its grace), so every
    send goes through the dispatcher, one at a time."""
    reports = runtime.services.reports
    for i in range(photos):
        await reports.on_photo(rider, jpeg((20 + 40 * i, 80, 160)))
    await reports.on_location(rider, *where)
    reply = None
    for verb, arg in (("cat", "fire_lane"), ("skip", ""), ("new", ""), ("ok", "")):
        reply = await reports.on_draft_button(rider, DraftAction(verb, arg))
    assert reply is not None and reply.queued, reply
    for key in reply.queued if answer else ():  # as the door does right after its own answer
        await runtime.services.send_now(key)
    [row] = await runtime.services.db.fetchall("SELECT payload FROM outbox WHERE idem_key = ?", (reply.queued[0],))
    found = re.search(r"SP-(\d{6})", json.loads(row[0])["text"])
    assert found, row[0]
    return int(found.group(1))


def key_report(idem_key: str) -> int:
    found = re.match(r"r(\d+):v\d+:fwd:", idem_key)
    assert found, idem_key
    return int(found.group(1))


# ---------------------------------------------------------------------------------------------- 1. idempotency


async def test_enqueue_with_the_same_key_adds_one_row(runtime: Runtime) -> None:
    db = runtime.services.db
    to = Recipient(None, "telegram", "7001")
    async with db.transaction() as conn:
        assert await enqueue(conn, "same-key", to, out.text("first"))
        assert not await enqueue(conn, "same-key", to, out.text("second, same transaction"))
    async with db.transaction() as conn:
        assert not await enqueue(conn, "same-key", to, out.text("third, another transaction"))
    runtime.services.wake_outbox()
    [row] = await settled(runtime)
    assert (row["idem_key"], row["status"], payload_sig(row)) == ("same-key", "sent", ("text", "first"))
    assert [message_sig(m) for m in standin_of(runtime).bot_messages(7001)] == [("text", "first")]
    # a rolled-back transaction leaves no row (and its key stays free)
    try:
        async with db.transaction() as conn:
            assert await enqueue(conn, "rolled-back", to, out.text("never"))
            raise RuntimeError("the state change failed")
    except RuntimeError:
        pass
    assert await db.fetchone("SELECT id FROM outbox WHERE idem_key = 'rolled-back'") is None


async def test_a_report_queues_its_notices_once_and_each_is_sent_once(runtime: Runtime) -> None:
    grid = grid_at(runtime, *IN_GRID_1)
    workers = [await worker(runtime, 5001, grid), await worker(runtime, 5002, grid)]
    rider = await identify(runtime, 1001, "骑手小王")
    report_id = await file_report(runtime, rider, IN_GRID_1, photos=2)
    # tapping "submit" again (a double tap, a retried callback) queues nothing more
    again = await runtime.services.reports.on_draft_button(rider, DraftAction("ok"))
    assert not again.messages
    rows = await settled(runtime)
    [receipt] = [r for r in rows if r["address"] == rider.external_id]
    assert receipt["idem_key"] == f"r{report_id}:receipt" and receipt["id"] < min(r["id"] for r in rows if r != receipt)
    rows = [r for r in rows if r != receipt]  # the rider's "已收到" (tests/test_receipts.py); here the forwards
    # the card on the first photo, the second photo, the map pin — for each worker of the grid; nobody else
    assert Counter(r["address"] for r in rows) == {str(w.external_id): 3 for w in workers}
    assert {key_report(r["idem_key"]) for r in rows} == {report_id}
    for chat_rows in by_chat(rows).values():
        assert [payload_sig(r)[0] for r in chat_rows] == ["photo", "photo", "venue"]
        assert f"SP-{report_id:06d}" in payload_sig(chat_rows[0])[1]
    assert [r["attempts"] for r in rows] == [1] * len(rows)
    assert_exactly_once_in_order(standin_of(runtime), rows)


# ---------------------------------------------------------------------------------------------- 2. 429 storm


async def test_a_429_storm_delays_forwarding_but_loses_duplicates_and_reorders_nothing(runtime: Runtime) -> None:
    standin = standin_of(runtime)
    chat_1, chat_2 = 5001, 5002
    await worker(runtime, chat_1, grid_at(runtime, *IN_GRID_1))
    await worker(runtime, chat_2, grid_at(runtime, *IN_GRID_2))
    riders = [await identify(runtime, 1001 + i, f"骑手{i}") for i in range(4)]
    faults = standin.faults
    faults.retry_after, faults.kinds, faults.fail_rate = 1, ("429",), 0.3
    # PTB's AIORateLimiter(max_retries=3) absorbs up to three 429s in a row; the fourth reaches the outbox.
    faults.fail_next("429", 4)
    report_ids = []
    for i in range(10):  # 4 riders (3, 3, 2, 2 reports: under the 5-an-hour limit), alternating grids
        where = IN_GRID_1 if i % 2 == 0 else IN_GRID_2
        report_ids.append(await file_report(runtime, riders[i % 4], (where[0], where[1] + 0.0004 * i), answer=False))
    rows = await settled(runtime, timeout=45)
    faults.reset()
    every_row, rows = rows, [r for r in rows if ":fwd:" in r["idem_key"]]  # receipts: tests/test_receipts.py

    assert Counter(r["address"] for r in rows) == {str(chat_1): 10, str(chat_2): 10}
    assert Counter(key_report(r["idem_key"]) for r in rows) == {rid: 2 for rid in report_ids}
    assert_exactly_once_in_order(standin, rows)
    refused = [c for c in sends(standin) if c["fault"] == "429"]
    assert len(refused) >= 6, "the storm did not happen"
    assert any(r["attempts"] >= 2 for r in every_row), "no 429 got past PTB's retries to the outbox"
    # retry_after honoured: after a 429 nothing more goes to that chat for retry_after seconds
    for chat in (chat_1, chat_2):
        calls = sends(standin, chat)
        for before, after in pairwise(calls):
            if before["fault"] == "429":
                assert after["ts"] - before["ts"] >= 1.0 - EPS, (chat, before, after)


# ---------------------------------------------------------------------------------------------- 3. 5xx and drops


async def test_5xx_and_drops_before_acting_end_in_exactly_once(runtime: Runtime) -> None:
    standin = standin_of(runtime)
    runtime.services.outbox.base_backoff = 0.1  # the doubling is what matters here; 1 s would only slow the test
    faults = standin.faults
    faults.drop_when = "before"
    faults.fail_next("5xx", 1)
    faults.fail_next("drop", 1)  # one row fails twice: retried after 0.1 s, then after 0.2 s
    [twice] = await push(runtime, [(7100, "fails twice")])
    [row] = await settled(runtime, [twice])
    tries = sends(standin, 7100)
    assert [(c["fault"], c["acted"]) for c in tries] == [("5xx", False), ("drop", False), (None, True)]
    assert tries[1]["ts"] - tries[0]["ts"] >= 0.1 - EPS and tries[2]["ts"] - tries[1]["ts"] >= 0.2 - EPS
    assert_exactly_once_in_order(standin, [row])

    faults.kinds, faults.fail_rate = ("5xx", "drop"), 0.35
    chats = (7101, 7102, 7103)
    ids = await push(runtime, [(chat, f"{chat}-{n}") for n in range(6) for chat in chats])
    rows = await settled(runtime, ids, timeout=30)
    faults.reset()

    assert_exactly_once_in_order(standin, rows)
    kinds = Counter(c["fault"] for c in sends(standin) if c["fault"])
    assert kinds["5xx"] >= 2 and kinds["drop"] >= 1, kinds
    assert not any(c["acted"] for c in sends(standin) if c["fault"]), "a 'before' fault must not act"
    # back-off: a row's attempts are spaced at least base * 2**(n-1) apart
    for row in rows:
        tries = [c for c in sends(standin, int(row["address"])) if c["sig"] == payload_sig(row)]
        assert len(tries) == row["attempts"]
        for n, (a, b) in enumerate(pairwise(tries), start=1):
            assert b["ts"] - a["ts"] >= 0.1 * 2 ** (n - 1) - EPS, (row["id"], n, b["ts"] - a["ts"])


async def test_a_drop_after_telegram_acted_costs_one_extra_copy_per_lost_answer(runtime: Runtime) -> None:
    standin = standin_of(runtime)
    runtime.services.outbox.base_backoff = 0.1
    faults = standin.faults
    faults.drop_when = "after"
    # one lost answer: the message was delivered, we could not know, it is sent again — exactly one extra copy
    faults.fail_next("drop", 1)
    [first] = await push(runtime, [(7201, "lost answer")])
    [row] = await settled(runtime, [first])
    shown = standin.bot_messages(7201)
    assert [message_sig(m) for m in shown] == [("text", "lost answer")] * 2
    assert (row["status"], row["attempts"], int(row["result_ref"])) == ("sent", 2, shown[-1]["message_id"])

    # many chats, random lost answers: every row delivered, in order, one extra copy per lost answer, no more
    faults.kinds, faults.fail_rate = ("drop",), 0.3
    chats = (7211, 7212, 7213)
    ids = await push(runtime, [(chat, f"{chat}-{n}") for n in range(5) for chat in chats])
    rows = await settled(runtime, ids, timeout=30)
    faults.reset()
    lost_total = 0
    for chat, chat_rows in by_chat(rows).items():
        shown = standin.bot_messages(chat)
        sigs = [message_sig(m) for m in shown]
        collapsed = [s for i, s in enumerate(sigs) if i == 0 or s != sigs[i - 1]]
        assert collapsed == [payload_sig(r) for r in chat_rows], "order kept; copies only next to each other"
        for r in chat_rows:
            lost = sum(1 for c in sends(standin, chat) if c["sig"] == payload_sig(r) and c["fault"] == "drop")
            copies = [m for m in shown if message_sig(m) == payload_sig(r)]
            assert r["status"] == "sent" and len(copies) == 1 + lost and r["attempts"] == 1 + lost
            assert int(r["result_ref"]) == copies[-1]["message_id"]
            lost_total += lost
    assert lost_total >= 1


# ---------------------------------------------------------------------------------------------- 4. retry_after


async def test_retry_after_is_honoured_by_ptb_and_then_by_the_outbox(runtime: Runtime) -> None:
    standin = standin_of(runtime)
    faults = standin.faults
    faults.retry_after = 2
    faults.fail_next("429", 4)  # 1 call + PTB's 3 retries (each after 2.1 s), then the outbox's own wait
    held, other = await push(runtime, [(7301, "held by 429"), (7302, "another chat")])

    async def rescheduled() -> dict | None:
        [row] = await outbox_rows(runtime, [held])
        return row if row["attempts"] == 1 and row["status"] == "pending" and row["last_error"] else None

    row = await until(rescheduled, 12, "the outbox to reschedule the row after PTB gave up")
    assert row["last_error"] == "RetryAfter"
    next_at = datetime.fromisoformat(row["next_at"].replace("Z", "+00:00")).timestamp()
    rows = await settled(runtime, [held, other], timeout=10)

    calls = sends(standin, 7301)
    assert [c["fault"] for c in calls] == ["429"] * 4 + [None]
    for a, b in pairwise(calls):
        assert b["ts"] - a["ts"] >= 2.0 - EPS
    fourth, delivered = calls[3], calls[4]
    assert next_at - fourth["ts"] >= 2.0 - EPS, "next_at moved at least retry_after ahead"
    assert delivered["ts"] >= next_at - EPS, "not re-sent before next_at"
    # PTB's pause holds every request (so the other chat waited too); the outbox's wait holds only its chat
    [other_call] = sends(standin, 7302)
    assert fourth["ts"] < other_call["ts"] < next_at
    assert [(r["status"], r["attempts"]) for r in rows] == [("sent", 2), ("sent", 1)]
    assert_exactly_once_in_order(standin, rows)


# ---------------------------------------------------------------------------------------------- 5. permanent


async def test_blocked_users_and_bad_requests_go_dead_without_holding_up_others(runtime: Runtime) -> None:
    standin = standin_of(runtime)
    blocked, fine, unknown = 7401, 7402, 7403
    standin.blocked.add(blocked)
    ids = await push(runtime, [(blocked, "x1"), (fine, "y1"), (blocked, "x2"), (fine, "y2")])
    rows = await settled(runtime, ids)
    dead = [r for r in rows if r["address"] == str(blocked)]
    assert [(r["status"], r["attempts"]) for r in dead] == [("dead", 1), ("dead", 1)]
    assert all(r["last_error"].startswith("Forbidden") for r in dead), dead
    assert len(sends(standin, blocked)) == 2, "one call per row, no retries"
    assert_exactly_once_in_order(standin, [r for r in rows if r["address"] == str(fine)])

    standin.known_chats_only = True  # the bot may only write to chats it knows: 7403 is "chat not found"
    ids = await push(runtime, [(unknown, "z1"), (fine, "y3")])
    rows = await settled(runtime, ids)
    [gone] = [r for r in rows if r["address"] == str(unknown)]
    assert (gone["status"], gone["attempts"]) == ("dead", 1)
    assert gone["last_error"].startswith("BadRequest") and "chat not found" in gone["last_error"].lower()
    assert len(sends(standin, unknown)) == 1
    fine_rows = [r for r in await outbox_rows(runtime) if r["address"] == str(fine)]
    assert_exactly_once_in_order(standin, fine_rows)


async def test_one_backed_up_chat_does_not_starve_the_others(runtime: Runtime) -> None:
    standin = standin_of(runtime)
    busy, quiet = 7501, 7502
    await push(runtime, [(busy, f"backlog {n}") for n in range(600)])
    [late] = await push(runtime, [(quiet, "queued after a long backlog elsewhere")])
    [row] = await settled(runtime, [late], timeout=3)
    assert row["status"] == "sent"
    assert len(sends(standin, busy)) < 100, "the quiet chat went out while the busy one was still sending"


# ---------------------------------------------------------------------------------------------- 6. crash/restart


async def test_a_restart_delivers_what_was_pending_and_resends_what_was_in_flight(
    settings: Settings, clock: ManualClock
) -> None:
    a, b = 7601, 7602
    first = Runtime(settings, clock)
    await first.start(poll_timeout=1)
    try:
        [delivered] = await push(first, [(a, "a0 delivered before the crash")])
        await settled(first, [delivered])
        standin = standin_of(first)
        standin.faults.kinds, standin.faults.fail_rate = ("5xx",), 1.0  # Telegram down: everything stays pending
        ids = await push(first, [(a, "a1"), (b, "b1"), (a, "a2"), (b, "b2"), (a, "a3")])

        async def both_heads_failed() -> bool:
            rows = await outbox_rows(first, ids)
            return all(r["attempts"] >= 1 for r in rows if r["idem_key"].endswith(("a1", "b1")))

        await until(both_heads_failed, 5, "both chats' first rows to fail once")
        first_sends = sends(standin)
    finally:
        await first.stop()
    assert [c["sig"][1] for c in first_sends if c["ok"]] == ["a0 delivered before the crash"]
    assert all(r["status"] in ("pending", "sending") and not r["result_ref"] for r in await _raw_rows(settings, ids))

    # the process died between Telegram's answer and our 'sent' (a0), and in the middle of a call (b2)
    async with Database(settings.db_path) as db:
        await db.write("UPDATE outbox SET status = 'sending' WHERE id IN (?, ?)", (delivered, ids[3]))

    second = Runtime(settings, clock)  # a new stand-in: no faults
    await second.start(poll_timeout=1)
    try:
        rows = await settled(second, [delivered, *ids], timeout=15)
        assert_exactly_once_in_order(standin_of(second), rows)
        # at least once across the crash: a0 reached the chat before it and again after it
        assert standin_of(second).bot_messages(a)[0]["text"] == "a0 delivered before the crash"
    finally:
        await second.stop()


async def _raw_rows(settings: Settings, ids: list[int]) -> list[dict]:
    marks = ",".join("?" * len(ids))
    async with Database(settings.db_path) as db:
        return [dict(r) for r in await db.fetchall(f"SELECT * FROM outbox WHERE id IN ({marks}) ORDER BY id", ids)]


# ---------------------------------------------------------------------------------------------- 7. pacing


async def test_pacing_per_chat_and_overall(settings: Settings, clock: ManualClock) -> None:
    interval = 0.25
    runtime = Runtime(replace(settings, outbox_per_chat_interval=interval), clock)
    await runtime.start(poll_timeout=1)
    try:
        standin = standin_of(runtime)
        a, b = 7701, 7702
        ids = await push(runtime, [(a, f"a{n}") for n in range(4)] + [(b, f"b{n}") for n in range(4)])
        rows = await settled(runtime, ids, timeout=10)
        assert_exactly_once_in_order(standin, rows)
        for chat in (a, b):
            stamps = [c["ts"] for c in sends(standin, chat)]
            gaps = [y - x for x, y in pairwise(stamps)]
            assert min(gaps) >= interval - EPS, (chat, gaps)
        order = [c["chat"] for c in sends(standin) if c["chat"] in (a, b)]
        assert order.index(b) < order.index(a) + 2, f"the chats interleave: {order}"
        span = sends(standin, b)[-1]["ts"] - sends(standin, a)[0]["ts"]
        assert span < 6 * interval, "two chats are paced side by side, not one after the other"

        # overall: 30 chats with one message each go out no faster than the dispatcher's 25 a second
        many = await push(runtime, [(7800 + n, f"broadcast {n}") for n in range(30)])
        await settled(runtime, many, timeout=10)
        stamps = [c["ts"] for c in sends(standin) if 7800 <= c["chat"] < 7830]
        assert len(stamps) == 30
        assert min(y - x for x, y in pairwise(stamps)) >= 1 / 25 - EPS
    finally:
        await runtime.stop()
