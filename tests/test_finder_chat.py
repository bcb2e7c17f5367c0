"""The station finder through the real stack: updates in over HTTP, answers out, a real SQLite file."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.app import Runtime
from bot.clock import ManualClock
from tests.chat import ChatUser, button, buttons
from tests.conftest import SHANGHAI

XUZHOU = (34.2617, 117.1859)  # near the centre of Xuzhou (WGS-84)


async def test_start_greets_in_chinese_with_the_keyboard(rider: ChatUser, runtime: Runtime) -> None:
    [reply] = await rider.send("/start")
    assert "骑手小王" in reply["text"] and "驿站" in reply["text"]
    keyboard = runtime.standin.reply_keyboard(rider.user_id)
    labels = [b["text"] for row in keyboard["keyboard"] for b in row]
    assert labels == ["📍 发送位置", "🏠 附近驿站", "🤝 友好小区/商家", "📸 随手拍", "❓ 帮助"]
    assert keyboard["keyboard"][0][0]["request_location"] is True


async def test_location_lists_the_nearest_stations_in_exact_order(rider: ChatUser, runtime: Runtime) -> None:
    [reply] = await rider.share_location(*XUZHOU)
    finder = runtime.services.finder
    expected = finder.catalog.nearest(*XUZHOU, 5, kinds={"station", "canteen"})
    text = reply["text"]
    assert text.startswith("📍 离你最近的驿站")
    positions = [text.index(place.name) for place, _ in expected]
    assert positions == sorted(positions), "listed in the index's order"
    assert "米" in text or "公里" in text
    assert "骑行约" in text
    assert "坐标为大致位置" in text
    # one venue button and one navigation link per result, then paging/filter rows
    venue_buttons = [b for b in buttons(reply) if b.get("callback_data", "").startswith("v:")]
    assert len(venue_buttons) == 5
    nav = [b for b in buttons(reply) if b.get("url", "").startswith("https://uri.amap.com/navigation")]
    assert len(nav) == 5


async def test_venue_button_sends_a_map_pin_in_wgs84(rider: ChatUser, runtime: Runtime) -> None:
    [reply] = await rider.share_location(*XUZHOU)
    answer, [venue] = await rider.tap(reply, "📍1")
    assert answer.get("text") in (None, "")
    place, _ = runtime.services.finder.catalog.nearest(*XUZHOU, 1, kinds={"station", "canteen"})[0]
    assert venue["venue"]["title"] == place.name
    assert abs(venue["location"]["latitude"] - place.lat) < 1e-6
    amap = button(venue, "导航")["url"]
    assert "coordinate=gaode" in amap  # GCJ-02 for Amap, not the WGS-84 pin


async def test_more_pages_further_out_and_filter_by_amenity(rider: ChatUser, runtime: Runtime) -> None:
    [first] = await rider.share_location(*XUZHOU)
    _, [page2] = await rider.tap(first, "更远的")
    assert page2["message_id"] == first["message_id"], "paging edits the list in place"
    assert "第 2 页" in page2["text"]
    assert "6. " in page2["text"]
    _, [menu] = await rider.tap(page2, "筛选", in_place=True)
    _, [filtered] = await rider.tap(menu, "充电")
    assert "筛选：🔌充电" in filtered["text"]
    finder = runtime.services.finder
    for place, _ in finder.catalog.nearest(*XUZHOU, 5, kinds={"station", "canteen"}, amenity="charging"):
        assert place.name in filtered["text"]
        assert "charging" in place.amenities


async def test_friendly_places_show_rider_policy(rider: ChatUser) -> None:
    await rider.share_location(*XUZHOU)
    [reply] = await rider.send("🤝 友好小区/商家")
    assert reply["text"].startswith("📍 离你最近的友好小区/商家/医院")
    assert "骑手停车位" in reply["text"] or "绿色通道" in reply["text"] or "免费饮水" in reply["text"]


async def test_keyboard_shortcut_without_a_location_asks_for_one(rider: ChatUser) -> None:
    [reply] = await rider.send("🏠 附近驿站")
    assert "请先发送你的位置" in reply["text"]


async def test_nothing_nearby_is_said_honestly_with_the_nearest_anything(rider: ChatUser) -> None:
    # Yellow Sea, inside China's coordinate rectangle but far from every place
    [reply] = await rider.share_location(34.5, 122.5)
    assert "内没有找到驿站" in reply["text"]
    assert "公里" in reply["text"]
    assert len([b for b in buttons(reply) if b.get("callback_data", "").startswith("v:")]) == 1


async def test_location_outside_china_gets_a_polite_answer(rider: ChatUser) -> None:
    [reply] = await rider.share_location(-33.9, 151.2)
    assert "不在我们的服务范围" in reply["text"]
    [reply] = await rider.share_location(0.0, -160.0)  # the Pacific
    assert "不在我们的服务范围" in reply["text"]


async def test_opening_hours_follow_the_shanghai_clock(rider: ChatUser, runtime: Runtime, clock: ManualClock) -> None:
    place = next(p for p in runtime.services.finder.catalog.places if p.hours.ranges and not p.hours.always)
    start = place.hours.ranges[0][0]
    clock.set(datetime(2026, 11, 26, start // 60, start % 60, tzinfo=SHANGHAI))
    [card] = await rider.send(place.name)
    assert "营业中" in card["text"]
    clock.set(datetime(2026, 11, 26, (start - 1) // 60 % 24, (start - 1) % 60, tzinfo=SHANGHAI))
    [card] = await rider.send(place.name)
    assert "已关门" in card["text"]


async def test_lang_switches_to_english_and_is_remembered(rider: ChatUser, runtime: Runtime) -> None:
    [reply] = await rider.send("/lang")
    assert reply["text"] == "Switched to English."
    [reply] = await rider.share_location(*XUZHOU)
    assert reply["text"].startswith("📍 Nearest rest stations")
    await runtime.stop()
    await runtime.start(poll_timeout=1)
    again = ChatUser(runtime.standin, rider.user_id)
    [reply] = await again.send("/help")
    assert "Rider helper" in reply["text"]
    [reply] = await again.send("/lang")
    assert reply["text"] == "已切换为中文。"


async def test_typed_names_find_places_tolerantly(rider: ChatUser) -> None:
    [reply] = await rider.send("米兰社区")
    assert "米兰社区" in reply["text"]
    [reply] = await rider.send("綠城深藍")  # traditional characters
    assert "绿城深蓝" in (reply["text"] + str(buttons(reply)))
    [reply] = await rider.send("Xuzhou")
    assert buttons(reply), "an ambiguous name offers a choice"
    _, [card] = await rider.tap(reply, buttons(reply)[0]["text"][:4], replies=1)
    assert "高德地图" in card["text"] and "geo:" in card["text"]


async def test_route_map_photo_is_sent_with_the_friendly_community(rider: ChatUser, runtime: Runtime) -> None:
    place = next(p for p in runtime.services.finder.catalog.places if p.route_map)
    [reply] = await rider.send(place.name)
    markup_id = reply["message_id"]
    assert markup_id
    _, messages = await rider.press(reply, f"d:s:{place.id}", replies=2)
    assert any("photo" in m for m in messages)


async def test_live_location_updates_the_list_in_place(rider: ChatUser, runtime: Runtime, clock: ManualClock) -> None:
    [reply] = await rider.share_location(*XUZHOU, live_period=900)
    assert "实时位置" in reply["text"]
    sent_id = rider.last_sent["message_id"]
    # a tiny move within the throttle does nothing
    runtime.standin.inject_edited_location(rider.user_id, sent_id, XUZHOU[0] + 0.0001, XUZHOU[1])
    # a big move right away is throttled too (a live location ticks every few seconds)
    runtime.standin.inject_edited_location(rider.user_id, sent_id, 31.67, 118.51)
    await rider.send("/help")  # updates are handled in order: once this is answered, the edits were seen
    list_now = next(m for m in runtime.standin.bot_messages(rider.user_id) if m["message_id"] == reply["message_id"])
    assert list_now["text"] == reply["text"], "no refresh inside the throttle"
    # after the throttle interval, Ma'anshan is far away: the list is edited in place
    clock.advance(timedelta(seconds=30))
    [edited] = await rider.move_live(sent_id, 31.671, 118.51)
    assert edited["message_id"] == reply["message_id"]
    assert "马鞍山" in edited["text"] or "花山" in edited["text"] or "雨山" in edited["text"]


async def test_filter_by_a_single_kind(rider: ChatUser, runtime: Runtime) -> None:
    [listing] = await rider.share_location(*XUZHOU)
    _, [menu] = await rider.tap(listing, "筛选", in_place=True)
    _, [hospitals] = await rider.tap(menu, "友好医院")
    assert hospitals["text"].startswith("📍 离你最近的友好医院")
    finder = runtime.services.finder
    expected = finder.catalog.nearest(*XUZHOU, 5, kinds={"hospital"}, max_distance_m=finder.radius_m)
    assert expected and all(place.name in hospitals["text"] for place, _ in expected)
    assert all(place.kind == "hospital" for place, _ in expected)
