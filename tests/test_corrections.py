"""Riders' corrections through the real stack: ⚠️ 信息有误 on a station card → reason → the keeper's notice
(outbox) → one tap → the rider told (and paid when right); three riders in a day → 待核实 until confirmed."""

from __future__ import annotations

from dataclasses import replace

import pytest

from bot.app import Runtime
from bot.config import Settings
from tests.chat import ChatUser, button
from tests.reporting import jpeg
from tests.test_people import _cli

PLACE, OTHER = "xz-hanfeng-xiaoge", "xz-milan-dangqun"
ADMIN_ID = 9001


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return replace(settings, admins=(ADMIN_ID,))


async def join(runtime: Runtime, user_id: int, place: str) -> ChatUser:
    code = await runtime.services.roles.invites.create_invite("keeper", place)
    chat = ChatUser(runtime.standin, user_id, f"站长{user_id}")
    await chat.send(f"/join {code}")
    return chat


async def flag(rider: ChatUser, runtime: Runtime, reason: str, place_id: str = PLACE) -> str:
    """Find the place by name, tap ⚠️ 信息有误 and a reason; returns the bot's answer."""
    name = runtime.services.finder.place(place_id).name
    [card] = await rider.send(name)
    _, [menu] = await rider.tap(card, "信息有误")
    assert "哪里不对" in menu["text"]
    _, [answer] = await rider.tap(menu, reason)
    return answer["text"]


async def next_message(runtime: Runtime, chat: ChatUser, before: int) -> dict:
    return (await runtime.standin.wait_for_bot_messages(chat.user_id, 1, after_seq=before, timeout=8))[0]


async def nearest_text(rider: ChatUser, runtime: Runtime) -> str:
    place = runtime.services.finder.place(PLACE)
    [reply] = await rider.share_location(place.lat, place.lon)
    start = reply["text"].index(place.name)
    return reply["text"][start : reply["text"].find("\n\n", start)]


async def test_a_correction_round_trip_pays_the_rider(runtime: Runtime, rider: ChatUser) -> None:
    keeper = await join(runtime, 4001, PLACE)
    before_keeper = runtime.standin.last_seq(keeper.user_id)
    assert "已转给" in await flag(rider, runtime, "不能充电")
    notice = await next_message(runtime, keeper, before_keeper)
    assert "不能充电" in notice["text"] and PLACE in notice["text"]

    before_rider = runtime.standin.last_seq(rider.user_id)
    answer, _ = await keeper.tap(notice, "属实", replies=0)
    assert "已处理" in answer["text"]
    told = await next_message(runtime, rider, before_rider)
    assert "确认属实" in told["text"] and "5 积分" in told["text"]
    assert "今日停电" in await nearest_text(rider, runtime), "the confirmed correction is applied at once"
    rows = await runtime.services.db.fetchall("SELECT kind, delta, reason FROM points")
    assert [tuple(r) for r in rows] == [("earned", 5, "correction")]
    again, _ = await keeper.press(notice, button(notice, "不属实")["callback_data"], replies=0)
    assert "已经处理过" in again["text"]


async def test_a_wrong_correction_is_answered_without_points(runtime: Runtime, rider: ChatUser) -> None:
    keeper = await join(runtime, 4001, PLACE)
    stranger = await join(runtime, 4002, OTHER)
    before_keeper = runtime.standin.last_seq(keeper.user_id)
    assert "一句话" in await flag(rider, runtime, "其他")
    [thanks] = await rider.send("门口在装修，找不到入口")
    assert "已转给" in thanks["text"]
    notice = await next_message(runtime, keeper, before_keeper)
    assert "门口在装修" in notice["text"]
    refused, _ = await stranger.press(notice, button(notice, "属实")["callback_data"], replies=0)
    assert "不是" in refused["text"], "a keeper of another place cannot resolve it"
    before_rider = runtime.standin.last_seq(rider.user_id)
    await keeper.tap(notice, "不属实", replies=0)
    told = await next_message(runtime, rider, before_rider)
    assert "信息无误" in told["text"]
    assert await runtime.services.db.fetchall("SELECT * FROM points") == []


async def test_three_riders_in_a_day_mark_the_place_to_be_verified(runtime: Runtime, rider: ChatUser) -> None:
    riders = [rider, ChatUser(runtime.standin, 1002, "骑手小李"), ChatUser(runtime.standin, 1003, "骑手小张")]
    admin = ChatUser(runtime.standin, ADMIN_ID, "管理员")
    await admin.send("/start")  # the place has no keeper: notices go to the admins we know
    before_admin = runtime.standin.last_seq(admin.user_id)
    await flag(riders[0], runtime, "没开门")
    assert "已经反馈过" in await flag(riders[0], runtime, "搬走了"), "one rider counts once"
    await flag(riders[1], runtime, "搬走了")
    assert "待核实" not in await nearest_text(rider, runtime)
    await flag(riders[2], runtime, "不让骑手进")
    assert "待核实" in await nearest_text(rider, runtime)
    notice = await next_message(runtime, admin, before_admin)
    assert "没开门" in notice["text"]
    await admin.tap(notice, "不属实", replies=0)  # the admin checked: the data stands
    assert "待核实" not in await nearest_text(rider, runtime)


async def test_the_cancel_label_is_no_flags_words(runtime: Runtime, rider: ChatUser) -> None:
    assert "一句话" in await flag(rider, runtime, "其他")
    [cancelled] = await rider.send("✖ 取消")
    assert cancelled["text"] == "已取消。"
    assert (await runtime.services.db.fetchone("SELECT COUNT(*) FROM place_flags"))[0] == 0


# --- suggested places --------------------------------------------------------------------------------------

NEW_SPOT = (34.3050, 117.2550)  # north-east Xuzhou, away from the bundled stations


async def suggest(rider: ChatUser, name: str) -> str:
    [ask] = await rider.send("/suggest")
    assert "位置" in ask["text"]
    [ask] = await rider.share_location(*NEW_SPOT)
    assert "名字" in ask["text"]
    [kinds] = await rider.send(name)
    _, [ask] = await rider.tap(kinds, "驿站")
    assert "照片" in ask["text"]
    [thanks] = await rider.send(photo=jpeg())
    return thanks["text"]


async def test_an_approved_suggestion_is_found_at_once(runtime: Runtime, rider: ChatUser, settings: Settings) -> None:
    admin = ChatUser(runtime.standin, ADMIN_ID, "管理员")
    await admin.send("/start")
    keeper = await join(runtime, 4001, PLACE)
    before = runtime.standin.last_seq(admin.user_id)
    assert "已提交" in await suggest(rider, "东湖骑手驿站")
    notices = await runtime.standin.wait_for_bot_messages(admin.user_id, 2, after_seq=before, timeout=8)
    card = next(m for m in notices if "photo" in m)
    assert "东湖骑手驿站" in card["caption"] and any("venue" in m for m in notices)
    refused, _ = await keeper.press(card, button(card, "通过")["callback_data"], replies=0)
    assert "只有管理员" in refused["text"]
    before_rider = runtime.standin.last_seq(rider.user_id)
    _, [approved] = await admin.tap(card, "通过")
    assert "sg-1" in approved["text"]
    assert "已通过审核" in (await next_message(runtime, rider, before_rider))["text"]
    [near] = await rider.share_location(*NEW_SPOT)
    assert near["text"].splitlines()[1].endswith("东湖骑手驿站"), "the nearest (the answer's lead), right away"
    result = await _cli(settings.db_path, "nearest", str(NEW_SPOT[0]), str(NEW_SPOT[1]), "-k", "1", "--json")
    assert result.returncode == 0, result.stderr
    assert '"id": "sg-1"' in result.stdout


async def test_a_declined_suggestion_adds_nothing(runtime: Runtime, rider: ChatUser) -> None:
    admin = ChatUser(runtime.standin, ADMIN_ID, "管理员")
    await admin.send("/start")
    before = runtime.standin.last_seq(admin.user_id)
    await rider.send("/suggest")
    await rider.share_location(*NEW_SPOT)
    [again] = await rider.send("x" * 60)
    assert "最多" in again["text"]
    await rider.send("/cancel")
    assert "已提交" in await suggest(rider, "不存在的驿站")
    notices = await runtime.standin.wait_for_bot_messages(admin.user_id, 2, after_seq=before, timeout=8)
    card = next(m for m in notices if "photo" in m)
    count = len(runtime.services.finder.catalog)
    _, [declined] = await admin.tap(card, "不通过")
    assert "已不通过" in declined["text"]
    assert len(runtime.services.finder.catalog) == count
