"""Every bad input gets a clear, polite answer in the user's language and changes nothing it shouldn't."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from bot.services.guard import FloodGuard
from tests.chat import ChatUser, buttons, settle

XUZHOU = (34.2617, 117.1859)


async def _user_row(runtime: Runtime, user_id: int) -> tuple:
    row = await runtime.services.db.fetchone(
        "SELECT lang, last_lat, last_lon FROM users WHERE channel='telegram' AND external_id=?", (str(user_id),)
    )
    return tuple(row) if row else ()


async def test_a_broken_picture_is_refused_politely(rider: ChatUser, runtime: Runtime) -> None:
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 64
    [reply] = await rider.send(photo=png)
    assert "不是照片" in reply["text"]
    assert (await runtime.services.db.fetchone("SELECT COUNT(*) FROM dialogs"))[0] == 0


async def test_a_30_mb_file_is_refused_with_its_size(rider: ChatUser) -> None:
    [reply] = await rider.send(document=(b"x" * 1024, "video.mp4", "video/mp4"), document_size=30 * 1024 * 1024)
    assert "文件太大（30.0 MB）" in reply["text"]


@pytest.mark.parametrize(
    "data",
    ["", "garbage", "v:s:", "n:stations:chraging:0", "n:x:-:0", "n:s:-:99999", "n:s:-:-1", "d:s:no-such-place",
     "f:", "v:s:" + "x" * 70, "🙂:🙂", "n:s:-:0:extra"],
)  # fmt: skip
async def test_forged_callbacks_are_refused_and_change_nothing(rider: ChatUser, runtime: Runtime, data: str) -> None:
    [listing] = await rider.share_location(*XUZHOU)
    before = (await _user_row(runtime, rider.user_id), runtime.standin.transcript(rider.user_id))
    answer, _ = await rider.press(listing, data, replies=0)
    assert answer["show_alert"] is True
    assert "按钮已失效" in answer["text"]
    after = (await _user_row(runtime, rider.user_id), runtime.standin.transcript(rider.user_id))
    assert before == after


async def test_paging_before_any_location_asks_for_one(rider: ChatUser, runtime: Runtime) -> None:
    [greeting] = await rider.send("/start")
    answer, _ = await rider.press(greeting, "n:s:-:5", replies=0)
    assert "请先发送你的位置" in answer["text"]


async def test_a_4096_character_message_gets_a_short_polite_answer(rider: ChatUser) -> None:
    [reply] = await rider.send("骑" * 4096)
    assert "内容太长了" in reply["text"]
    assert len(reply["text"]) < 200


@pytest.mark.parametrize(
    "text", ["🛵🛵🛵", "مرحبا", "שלום", "Привет", "こんにちは", "\u200f\u202e", "'; DROP TABLE places; --", "%s{}{0}"]
)
async def test_text_in_any_script_is_answered(rider: ChatUser, runtime: Runtime, text: str) -> None:
    [reply] = await rider.send(text)
    assert reply["text"]
    assert await runtime.services.db.fetchone("SELECT COUNT(*) FROM places") is not None


async def test_english_user_gets_english_errors(rider: ChatUser) -> None:
    await rider.send("/lang")
    [reply] = await rider.send(document=(b"x", "a.bin", "application/octet-stream"), document_size=25 * 1024 * 1024)
    assert "The file is too big" in reply["text"]
    [listing] = await rider.share_location(*XUZHOU)
    answer, _ = await rider.press(listing, "nonsense", replies=0)
    assert answer["text"] == "This button has expired; please send your location again."


async def test_group_chats_get_a_private_chat_hint_and_no_lists(rider: ChatUser, runtime: Runtime) -> None:
    standin = runtime.standin
    group = -100123
    standin.inject_message(rider.user_id, text="/start", chat_type="group", chat_id=group)
    [hint] = await standin.wait_for_bot_messages(group, 1, timeout=8)
    assert "请私聊我使用" in hint["text"]
    standin.inject_message(rider.user_id, location=XUZHOU, chat_type="group", chat_id=group)
    await settle(runtime)
    assert len(standin.bot_messages(group)) == 1


async def test_unknown_command_and_sticker_are_answered(rider: ChatUser, runtime: Runtime) -> None:
    [reply] = await rider.send("/nosuchcommand")
    assert "骑手助手使用说明" in reply["text"]
    before = runtime.standin.last_seq(rider.user_id)
    runtime.standin.inject_update(
        {
            "message": {
                "message_id": 9999, "date": 1764122400,
                "chat": {"id": rider.user_id, "type": "private", "first_name": "骑手"},
                "from": {"id": rider.user_id, "is_bot": False, "first_name": "骑手"},
                "sticker": {"file_id": "s1", "file_unique_id": "u1", "width": 512, "height": 512,
                            "is_animated": False, "is_video": False, "type": "regular"},
            }
        }
    )  # fmt: skip
    [reply] = await runtime.standin.wait_for_bot_messages(rider.user_id, 1, after_seq=before, timeout=8)
    assert "请发送位置" in reply["text"]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(min_size=1, max_size=300).filter(lambda s: s.strip() and not s.startswith("/")))
async def test_any_text_gets_exactly_one_answer(rider: ChatUser, text: str) -> None:
    replies = await rider.send(text)
    assert len(replies) == 1 and (replies[0].get("text") or buttons(replies[0]))


async def test_a_flooding_user_is_told_once_and_cannot_slow_others(settings: Settings, clock: ManualClock) -> None:
    runtime = Runtime(replace(settings, flood_burst=5, flood_per_second=0.5), clock)
    await runtime.start(poll_timeout=1)
    try:
        flooder, other = ChatUser(runtime.standin, 6001), ChatUser(runtime.standin, 6002)
        for i in range(40):
            runtime.standin.inject_message(flooder.user_id, text=f"spam {i}")
        [reply] = await other.send("米兰社区")
        assert "米兰社区" in reply["text"], "the other user is answered while the flood is dropped"
        await settle(runtime)
        texts = [m["text"] for m in runtime.standin.bot_messages(flooder.user_id)]
        # 5 answered, and one warning, sent as soon as the flood is seen (before the admitted 5 are all answered)
        assert len(texts) == 6 and texts.count("消息太快了，请稍等几秒再发。") == 1
    finally:
        await runtime.stop()


async def test_a_redelivered_update_acts_once(rider: ChatUser, runtime: Runtime) -> None:
    update = {
        "update_id": 777_000_001,
        "message": {
            "message_id": 5555, "date": 1764122400, "text": "/report",
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
            "chat": {"id": rider.user_id, "type": "private", "first_name": "骑手"},
            "from": {"id": rider.user_id, "is_bot": False, "first_name": "骑手"},
        },
    }  # fmt: skip
    before = runtime.standin.last_seq(rider.user_id)
    runtime.standin.inject_update(update)
    runtime.standin.inject_update(update)  # the same update_id again, as a webhook retry would
    await rider.send("/help")
    replies = [m for m in runtime.standin.bot_messages(rider.user_id) if m["_seq"] > before]
    assert sum("随手拍：请拍照" in m["text"] for m in replies) == 1


def test_the_flood_guard_limits_each_user_and_everyone_together() -> None:
    now = [0.0]
    guard = FloodGuard(burst=3, per_second=1.0, global_burst=5, global_per_second=2.0, clock=lambda: now[0])
    assert [guard.check("a") for _ in range(6)] == ["ok", "ok", "ok", "warn", "drop", "drop"]
    # a's refused messages did not spend the shared budget: 2 of 5 are left for everyone else
    assert [guard.check("b") for _ in range(3)] == ["ok", "ok", "drop"]
    now[0] += 1.0  # two tokens back in the shared bucket, one in a's
    assert guard.check("a") == "ok"
    assert guard.check("c") == "ok"
    assert guard.check("d") == "drop", "everyone together is limited too"
