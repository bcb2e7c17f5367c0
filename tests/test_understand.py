"""What riders type (issue #13): amenity words become filters around a fresh location, greetings get a friendly
answer, exact names win outright, ambiguous ones are ranked by distance, city names give that city's stations,
and a stale stored location is confirmed rather than silently reused."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from tests.chat import ChatUser, buttons
from tests.reporting import jpeg

XUZHOU = (34.2617, 117.1859)
MAANSHAN = (31.6700, 118.5100)


@pytest.mark.parametrize(
    ("typed", "label"),
    [
        ("充电", "🔌充电"),
        ("换电", "🔌充电"),
        ("厕所", "🚻卫生间"),
        ("附近有厕所吗", "🚻卫生间"),
        ("喝水", "💧饮水"),
        ("热饭", "🍱微波炉"),
        ("休息", "🪑休息"),
        ("充电和厕所", "🔌充电+🚻卫生间"),
    ],
)
async def test_amenity_words_filter_around_the_rider(rider: ChatUser, typed: str, label: str) -> None:
    [ask] = await rider.send(typed)
    assert "请先发送你的位置" in ask["text"] and label.split("+")[0][1:] in ask["text"]
    await rider.share_location(*XUZHOU)
    [answer] = await rider.send(typed)
    assert answer["text"].startswith("📍 离你最近的驿站"), answer["text"]
    assert f"筛选：{label}" in answer["text"]
    assert "没有找到" not in answer["text"]


async def test_greetings_and_thanks_get_a_friendly_answer(rider: ChatUser, runtime: Runtime) -> None:
    for typed, expected in (("你好", "我是骑手助手"), ("谢谢！", "不客气"), ("hello", "我是骑手助手")):
        [reply] = await rider.send(typed)
        assert expected in reply["text"] and "没有找到" not in reply["text"]
    keyboard = runtime.standin.reply_keyboard(rider.user_id)
    assert keyboard and keyboard["keyboard"][0][0]["request_location"] is True


async def test_an_exact_alias_wins_outright(rider: ChatUser) -> None:
    [reply] = await rider.send("半山花园")
    assert reply["text"].startswith("半山花园社区 · "), "the alias names one place: its card, not a choice"
    assert "半山花园社区党群服务中心" not in reply["text"]


async def test_ambiguous_names_are_ranked_by_distance_to_the_rider(rider: ChatUser, runtime: Runtime) -> None:
    finder = runtime.services.finder
    await rider.share_location(*MAANSHAN)
    [near_maanshan] = await rider.send("党群服务中心")
    first = finder.place(buttons(near_maanshan)[0]["callback_data"].split(":")[-1])
    assert first is not None and first.city == "马鞍山"
    await rider.share_location(*XUZHOU)
    [near_xuzhou] = await rider.send("党群服务中心")
    first = finder.place(buttons(near_xuzhou)[0]["callback_data"].split(":")[-1])
    assert first is not None and first.city == "徐州"


async def test_a_city_name_gives_that_citys_stations_around_its_centre(rider: ChatUser, runtime: Runtime) -> None:
    finder = runtime.services.finder
    for typed, city in (("徐州", "徐州"), ("Xuzhou", "徐州"), ("马鞍山市", "马鞍山"), ("suzhou", "宿州")):
        [reply] = await rider.send(typed)
        assert reply["text"].startswith(f"🏙 {city}"), reply["text"]
        listed = [p for p in finder.catalog.places if p.name in reply["text"]]
        assert listed and all(p.city == city for p in listed)


async def test_a_stale_location_is_confirmed_not_silently_reused(
    rider: ChatUser, runtime: Runtime, clock: ManualClock
) -> None:
    await rider.share_location(*XUZHOU)
    clock.advance(timedelta(minutes=10))
    [fresh] = await rider.send("🏠 附近驿站")
    assert fresh["text"].startswith("📍 离你最近的驿站"), "ten minutes old is still where the rider is"
    clock.advance(timedelta(minutes=10))
    [ask] = await rider.send("🏠 附近驿站")
    assert "你上次的位置" in ask["text"] and "20 分钟前" in ask["text"] and "10:00" in ask["text"]
    assert "附近" in ask["text"], "where it was, by the nearest place we know"
    _, [listing] = await rider.tap(ask, "用这个位置")
    assert listing["text"].startswith("📍 离你最近的驿站")
    # the same for an amenity word
    [ask] = await rider.send("充电")
    assert "你上次的位置" in ask["text"]
    _, [charging] = await rider.tap(ask, "用这个位置")
    assert "筛选：🔌充电" in charging["text"]


async def test_a_stale_location_is_confirmed_for_a_report_too(
    rider: ChatUser, runtime: Runtime, clock: ManualClock
) -> None:
    await rider.share_location(34.2540, 117.2080)
    clock.advance(timedelta(minutes=40))
    await rider.send(photo=jpeg(), caption="井盖松了", replies=2)
    [ask] = await rider.send("↩ 用上次的位置")
    assert "你上次的位置" in ask["text"] and "40 分钟前" in ask["text"]
    _, [categories] = await rider.tap(ask, "用这个位置")
    assert "请选择类别" in categories["text"]
