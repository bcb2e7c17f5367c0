"""Whatever Telegram sends, the bot neither crashes nor stays silent, and an update delivered twice acts once.

- Fuzz: hypothesis builds streams of updates of every shape Telegram can send (text, photo, document, sticker,
  location, venue, contact, poll, dice, fields no Bot API version has yet, edits, channel posts, button presses
  with any data; private, group, supergroup and channel chats; huge texts, emoji, RTL marks, control
  characters). They go through the stand-in to the real stack. Nothing may reach the error handler (or PTB's
  own error log), every new message in a private chat gets at least one answer, and every button press is
  answered.
- Duplicates: Telegram delivers at least once (a lost getUpdates confirmation, webhook retries), so the same
  update can arrive twice, right away or much later. A whole 随手拍 report delivered with every update doubled
  gives the same conversation, one report, one photo and one forward.

See docs/RELIABILITY.md, "Duplicates and any input".
"""

from __future__ import annotations

import asyncio
import copy
import logging
import os
import re
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from telegram import Update

from bot.app import Runtime
from bot.config import Settings
from bot.standin.server import StandIn
from bot.store.db import Database
from tests.chat import ChatUser
from tests.reporting import bind, grid_at, jpeg

LONG = os.environ.get("RIDER_LONG_TESTS") == "1"
SENTINEL = 6999  # a user who only ever presses the sentinel button
USERS = list(range(7001, 7009))
HERE = (34.2540, 117.2080)


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, flood_burst=100_000, reports_per_hour=1000)


class Errors(logging.Handler):
    """Every error from our code and from PTB while the test runs, and the error handler's warnings (it could
    not even tell the user). Expected warnings ("photo download failed" for a file Telegram no longer has) pass."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        if not record.name.startswith(("handlers", "bot", "telegram")):
            return
        if record.levelno >= logging.ERROR or record.name == "handlers.telegram.fallback":
            self.records.append(record)

    def describe(self) -> str:
        out = []
        for r in self.records[-5:]:
            out.append(f"{r.levelname} {r.name}: {r.getMessage()}")
            if r.exc_info:
                out.append(logging.Formatter().formatException(r.exc_info)[-1500:])
        return "\n".join(out)


@pytest.fixture
def errors() -> Iterator[Errors]:
    handler = Errors()
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield handler
    finally:
        root.removeHandler(handler)


# ---------------------------------------------------------------------------------------------- strategies

# Any text a phone can send: every script, emoji, RTL/LTR marks and overrides, zero-width joiners, control
# characters (no lone surrogates: they cannot travel in UTF-8 JSON).
MARKS = "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200b\u200c\u200d\ufeff"
text_chars = st.one_of(
    st.characters(codec="utf-8"),
    st.sampled_from(MARKS + "\x00\x01\x07\x08\t\n\r\x1b\x7f"),
    st.sampled_from("🚒🔥⚡🛵🚧🏍️👍🏽👨‍👩‍👧‍👦🇨🇳مرحباשלום米兰社区綠城深藍"),
)
texts = st.one_of(
    st.text(text_chars, min_size=1, max_size=60),
    st.text(text_chars, min_size=1, max_size=600),
    st.builds(lambda c, n: (c * n)[:4096], st.text(text_chars, min_size=1, max_size=3), st.integers(1000, 4096)),
    st.sampled_from(["米兰社区", "Xuzhou", "📸 随手拍", "🏠 附近驿站", "❓ 帮助", "取消", "跳过", "", " ", "\u202e"]),
).filter(lambda s: s.strip() != "")
commands = st.builds(
    lambda c, tail: f"/{c}{tail}",
    st.sampled_from(["start", "help", "lang", "report", "cancel", "myreports", "points", "queue", "join", "whoami",
                     "stats", "overdue", "nosuchcommand", "start@rider_helper_bot", "start@other_bot"]),
    st.one_of(st.just(""), st.builds(lambda s: " " + s, st.text(text_chars, max_size=40))),
)  # fmt: skip
ids = st.text("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=80)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
    max_leaves=6,
)
unknown_fields = st.dictionaries(st.from_regex(r"\Afuture_[a-z_]{1,12}\Z"), json_values, max_size=2)
lat = st.floats(-90, 90, allow_nan=False)
lon = st.floats(-180, 180, allow_nan=False)
sizes = st.integers(0, 60 * 1024 * 1024)


def _photo_size(file_id: str, w: int, h: int, size: int) -> dict:
    return {"file_id": file_id, "file_unique_id": file_id[:16], "width": w, "height": h, "file_size": size}


contents = st.one_of(
    texts.map(lambda s: {"text": s}),
    commands.map(
        lambda s: {"text": s, "entities": [{"type": "bot_command", "offset": 0, "length": len(s.split()[0])}]}
    ),
    st.builds(
        lambda fid, w, h, size, caption: {
            "photo": [_photo_size(fid + "s", 90, 67, 1000), _photo_size(fid, w, h, size)],
            **({"caption": caption[:1024]} if caption else {}),
        },
        ids, st.integers(1, 10000), st.integers(1, 10000), sizes, st.none() | texts,
    ),
    st.builds(
        lambda fid, name, mime, size: {"document": {"file_id": fid, "file_unique_id": fid[:16], "file_name": name,
                                                    "mime_type": mime, "file_size": size}},
        ids, st.text(text_chars, min_size=1, max_size=40),
        st.sampled_from(["image/jpeg", "image/png", "application/pdf", "video/mp4", "application/x-msdownload"]),
        sizes,
    ),
    st.builds(
        lambda fid, emoji: {"sticker": {"file_id": fid, "file_unique_id": fid[:16], "type": "regular", "width": 512,
                                        "height": 512, "is_animated": False, "is_video": False, "emoji": emoji}},
        ids, st.sampled_from(["😀", "🛵", "👍🏽"]),
    ),
    st.builds(lambda a, o: {"location": {"latitude": a, "longitude": o}}, lat, lon),
    st.builds(lambda a, o, p: {"location": {"latitude": a, "longitude": o, "live_period": p}}, lat, lon,
              st.sampled_from([60, 900, 86400, 0x7FFFFFFF])),
    st.builds(
        lambda a, o, title, address: {"location": {"latitude": a, "longitude": o},
                                      "venue": {"location": {"latitude": a, "longitude": o}, "title": title,
                                                "address": address}},
        lat, lon, texts, st.text(text_chars, max_size=80),
    ),
    st.builds(
        lambda phone, name, uid: {"contact": {"phone_number": phone, "first_name": name,
                                              **({"user_id": uid} if uid else {})}},
        st.from_regex(r"\A\+?[0-9]{3,15}\Z"), texts, st.none() | st.integers(1, 2**40),
    ),
    st.builds(
        lambda q, opts: {"poll": {"id": "1", "question": q[:300], "options": [{"text": o[:100], "voter_count": 0,
                                                                               "persistent_id": str(i)}
                                                                              for i, o in enumerate(opts)],
                                  "total_voter_count": 0, "is_closed": False, "is_anonymous": True,
                                  "type": "regular", "allows_multiple_answers": False,
                                  "allows_revoting": False, "members_only": False}},
        texts, st.lists(texts, min_size=2, max_size=4),
    ),
    st.builds(lambda e, v: {"dice": {"emoji": e, "value": v}}, st.sampled_from(["🎲", "🎯", "🏀", "⚽", "🎳", "🎰"]),
              st.integers(1, 6)),
    st.just({}),  # only fields this bot has never heard of
)  # fmt: skip
chat_types = st.sampled_from(["private", "private", "private", "group", "supergroup", "channel"])
steps = st.one_of(
    st.tuples(st.just("message"), st.sampled_from(USERS), chat_types, contents, unknown_fields),
    st.tuples(st.just("edit"), st.sampled_from(USERS), chat_types, texts, unknown_fields),
    st.tuples(st.just("callback"), st.sampled_from(USERS), st.integers(-5, 50), st.text(text_chars, max_size=64)),
    st.tuples(st.just("unknown_update"), st.sampled_from(USERS), json_values),
    st.tuples(st.just("again"), st.integers(0, 20)),  # a redelivery of an earlier update of the stream
)
streams = st.lists(steps, min_size=1, max_size=8)


# ---------------------------------------------------------------------------------------------- driving


class Driver:
    """Puts fuzzed updates into the stand-in as Telegram would send them (the chat state knows each message, so
    a reply to it is valid), and checks each private message gets an answer."""

    def __init__(self, standin: StandIn, db: Database) -> None:
        self.standin = standin
        self.db = db
        self.sent: list[dict] = []  # the updates of the current stream
        self.queries: list[str] = []

    def _chat(self, user: dict, chat_type: str) -> Any:
        s = self.standin
        if chat_type == "private":
            return s._private_chat(user)
        cid = -(1_000_000_000_000 + user["id"]) if chat_type in ("supergroup", "channel") else -user["id"]
        state = s._chats.get(cid)
        if state is None or state.chat["type"] != chat_type:
            from bot.standin.server import _Chat

            state = s._chats[cid] = _Chat(chat={"id": cid, "title": f"群组{cid}", "type": chat_type})
        return state

    def _enqueue(self, update: dict) -> dict:
        # Only what Telegram could send: an update PTB cannot even parse is a bug of this generator (and would stop
        # PTB's polling loop for everyone — it retries the same batch forever).
        Update.de_json({**update, "update_id": 1}, None)
        uid = self.standin.inject_update(update)
        update = {**copy.deepcopy(update), "update_id": uid}
        self.sent.append(update)
        return update

    def message(self, user_id: int, chat_type: str, content: dict, extra: dict) -> dict | None:
        s = self.standin
        user = s._user(user_id, "骑手\u202e测试" if user_id % 2 else "Rider", None, "zh-hans" if user_id % 3 else "ar")
        state = self._chat(user, chat_type)
        entry = s._add_message(state, user, False, {**copy.deepcopy(content), **extra})
        message = entry.message
        if chat_type == "channel":  # channel posts come from the channel, not from a user
            message.pop("from", None)
            message["sender_chat"] = dict(state.chat)
            return self._enqueue({"channel_post": message})
        return self._enqueue({"message": message})

    def edit(self, user_id: int, chat_type: str, text: str, extra: dict) -> dict | None:
        s = self.standin
        user = s._user(user_id)
        state = self._chat(user, chat_type)
        mine = [e for e in state.entries.values() if not e.from_bot and "text" in e.message]
        if not mine:
            return None
        message = mine[-1].message
        message.update(text=text, edit_date=message["date"] + 1, **extra)
        message.pop("entities", None)
        return self._enqueue({"edited_channel_post" if chat_type == "channel" else "edited_message": message})

    def callback(self, user_id: int, message_id: int, data: str) -> None:
        self.queries.append(self.standin.inject_callback(user_id, message_id, data))

    async def settle_chat(self, user_id: int) -> None:
        """Everything injected so far into this user's private chat has been handled: updates of one chat are
        handled strictly in order, and a button press injected last (which answers with a toast, not a message)
        has been answered."""
        query = self.standin.inject_callback(user_id, 0, "fuzz-sentinel")
        await self.standin.wait_for_callback_answer(query, timeout=15)

    async def settle(self) -> None:
        """Every update injected so far has been handled (as far as anything can tell from outside)."""
        wanted = {str(u["update_id"]) for u in self.sent}
        for _ in range(500):
            rows = await self.db.fetchall("SELECT key FROM inbound_seen WHERE channel = 'telegram'")
            if wanted <= {r[0] for r in rows}:
                break
            await asyncio.sleep(0.02)
        else:
            raise AssertionError(f"updates never handled: {sorted(wanted - {r[0] for r in rows})[:5]}")
        for user_id in {*USERS, SENTINEL}:
            await self.settle_chat(user_id)
        await asyncio.sleep(0.2)  # group and channel chats have no sentinel: their last update just started


@pytest.fixture
def driver(runtime: Runtime) -> Driver:
    assert runtime.standin is not None and runtime.services is not None
    return Driver(runtime.standin, runtime.services.db)


@hypothesis_settings(
    max_examples=1000 if LONG else 100,
    phases=[Phase.explicit, Phase.reuse, Phase.generate],  # no shrinking: a failing stream can cost 15 s waits each
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(stream=streams)
async def test_any_stream_of_updates_is_handled_and_every_private_message_answered(
    driver: Driver, errors: Errors, stream: list[tuple]
) -> None:
    driver.sent, driver.queries = [], []
    standin = driver.standin
    for step in stream:
        kind = step[0]
        if kind == "message":
            _, user_id, chat_type, content, extra = step
            before = standin.last_seq(user_id)
            update = driver.message(user_id, chat_type, content, extra)
            if chat_type == "private" and update is not None:
                await driver.settle_chat(user_id)
                answers = [m for m in standin.bot_messages(user_id) if m["_seq"] > before]
                assert answers, f"no answer to {str(update)[:300]}\n{errors.describe()}"
        elif kind == "edit":
            driver.edit(*step[1:])
        elif kind == "callback":
            driver.callback(*step[1:])
        elif kind == "unknown_update":
            driver._enqueue({"future_update_kind": {"from": {"id": step[1]}, "payload": step[2]}})
        elif kind == "again" and driver.sent:
            standin.inject_update(driver.sent[step[1] % len(driver.sent)])  # same update_id
    await driver.settle()
    for query in driver.queries:
        await standin.wait_for_callback_answer(query, timeout=5)
    assert not errors.records, errors.describe()


# ---------------------------------------------------------------------------------------------- duplicates


def shape(messages: list[dict]) -> list[str]:
    """What a person reads, roughly: each message's first line with numbers masked."""
    out = []
    for m in messages:
        text = m.get("text") or m.get("caption") or ("<venue>" if "venue" in m else "<photo>")
        out.append(re.sub(r"\d+", "#", text.splitlines()[0])[:12])  # the place names differ: first line only
    return out


class Doubling:
    """Wraps the stand-in's injection so that every update goes in twice with the same update_id."""

    def __init__(self, standin: StandIn) -> None:
        self.standin = standin

    def __enter__(self) -> Doubling:
        s = self.standin
        self.originals = (s.inject_message, s.inject_callback)

        def twice(inject: Any) -> Any:
            def wrapper(*args: Any, **kwargs: Any) -> Any:
                result = inject(*args, **kwargs)
                s.inject_update(copy.deepcopy(s._updates[-1]))  # the same update again, at once
                return result

            return wrapper

        s.inject_message, s.inject_callback = twice(s.inject_message), twice(s.inject_callback)  # type: ignore[method-assign]
        return self

    def __exit__(self, *exc: object) -> None:
        self.standin.inject_message, self.standin.inject_callback = self.originals  # type: ignore[method-assign]


async def file_report(rider: ChatUser, where: tuple[float, float]) -> list[dict]:
    start = rider.standin.last_seq(rider.user_id)
    await rider.send(photo=jpeg(), caption="消防通道被堵", replies=2)
    [categories] = await rider.share_location(*where)
    _, [summary] = await rider.tap(categories, "消防通道堵塞")
    _, [received] = await rider.tap(summary, "提交")
    assert "已收到，编号 SP-" in received["text"]
    rider.summary = summary
    return [m for m in rider.standin.bot_messages(rider.user_id) if m["_seq"] > start]


async def test_every_update_of_a_report_delivered_twice_acts_once(runtime: Runtime, driver: Driver) -> None:
    standin, db = runtime.standin, runtime.services.db
    assert standin is not None
    worker = ChatUser(standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    once, twice = ChatUser(standin, 1001, "骑手甲"), ChatUser(standin, 1002, "骑手乙")
    reference = await file_report(once, HERE)
    with Doubling(standin):
        doubled = await file_report(twice, (HERE[0] + 0.002, HERE[1]))  # > 50 m away: not offered as a duplicate
    await driver.settle_chat(twice.user_id)
    # a late redelivery of the submit tap, and of the photo, long after they were handled
    for update in [u for u in standin.calls if u["method"] == "getUpdates" and u.get("result")]:
        for item in update["result"]:
            message = item.get("message") or {}
            query = item.get("callback_query") or {}
            if (message.get("from") or query.get("from") or {}).get("id") == twice.user_id:
                standin.inject_update(item)
    await driver.settle_chat(twice.user_id)
    doubled = [m for m in standin.bot_messages(twice.user_id) if m["_seq"] > 0]
    assert shape(doubled) == shape(reference), "the same conversation, not one answer more"
    rows = await db.fetchall(
        "SELECT r.id, (SELECT COUNT(*) FROM report_photos p WHERE p.report_id = r.id) AS photos,"
        " (SELECT COUNT(*) FROM outbox o WHERE o.idem_key LIKE 'r' || r.id || ':%') AS notices"
        " FROM reports r JOIN users u ON u.id = r.reporter_id WHERE u.external_id IN ('1001', '1002') ORDER BY r.id"
    )
    assert [(r["photos"]) for r in rows] == [1, 1], "one report each, one photo each"
    assert rows[0]["notices"] == rows[1]["notices"] > 0
    assert runtime.services.outbox is not None
    await runtime.services.outbox.wait_idle(timeout=10)
    cards = [m for m in standin.bot_messages(worker.user_id) if "photo" in m]
    assert len(cards) == 2, [c.get("caption", "")[:40] for c in cards]
    seen = await db.fetchone("SELECT COUNT(*) FROM inbound_seen")
    assert seen[0] > 0


async def test_a_command_posted_in_a_channel_is_ignored(driver: Driver, errors: Errors) -> None:
    """Found by the fuzz test: "/myreports" posted in a channel the bot is in reached `start.group_hint`
    (its filter was "not private"), whose `who()` needs a user — a channel post has none. The group hint now
    answers groups only."""
    update = {
        "channel_post": {
            "message_id": 1, "date": 1764122400, "text": "/myreports",
            "entities": [{"type": "bot_command", "offset": 0, "length": 10}],
            "chat": {"id": -1_000_000_000_777, "type": "channel", "title": "频道"},
            "sender_chat": {"id": -1_000_000_000_777, "type": "channel", "title": "频道"},
        }
    }  # fmt: skip
    driver.sent = []
    driver._enqueue(update)
    await driver.settle()
    assert not errors.records, errors.describe()
