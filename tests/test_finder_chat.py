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
    assert "骑行 " in text
    assert "坐标为大致位置" in text
    # the nearest leads, compact: its name on the second line, then distance · ride · open now
    lines = text.split("\n")
    assert expected[0][0].name in lines[1] and "骑行" in lines[2] and "🟢" in lines[2]
    assert len(text) <= 260 and len(lines) <= 12, f"{len(text)} characters over {len(lines)} lines"
    assert "%" not in text and "http" not in text
    # one 🧭 riding route (to the nearest), then the others by number
    [route] = [b for b in buttons(reply) if "url" in b]
    assert route["url"].startswith("https://uri.amap.com/navigation") and "mode=ride" in route["url"]
    assert expected[0][0].name[:8] in route["text"]
    details = [b for b in buttons(reply) if b.get("callback_data", "").startswith("d:")]
    assert [b["text"] for b in details] == ["ℹ️ 详情", "ℹ️2", "ℹ️3", "ℹ️4", "ℹ️5"]


async def test_venue_button_sends_a_map_pin_in_wgs84(rider: ChatUser, runtime: Runtime) -> None:
    [reply] = await rider.share_location(*XUZHOU)
    _, [card] = await rider.tap(reply, "详情")
    assert "%" not in card["text"] and "http" not in card["text"], "no raw links in the text"
    answer, [venue] = await rider.tap(card, "📍")
    assert answer.get("text") in (None, "")
    place, _ = runtime.services.finder.catalog.nearest(*XUZHOU, 1, kinds={"station", "canteen"})[0]
    assert venue["venue"]["title"] == place.name
    assert abs(venue["location"]["latitude"] - place.lat) < 1e-6
    amap = button(venue, "🧭")["url"]
    assert "coordinate=gaode" in amap and "mode=ride" in amap  # GCJ-02 for Amap, not the WGS-84 pin


async def test_more_pages_further_out_and_filter_by_amenity(rider: ChatUser, runtime: Runtime) -> None:
    [first] = await rider.share_location(*XUZHOU)
    _, [page2] = await rider.tap(first, "更远的")
    assert page2["message_id"] == first["message_id"], "paging edits the list in place"
    assert "第 2 页" in page2["text"]
    assert "6. " in page2["text"]
    _, [page3] = await rider.tap(page2, "更远的")
    assert "11. " in page3["text"]
    _, [back] = await rider.tap(page3, "上一页")  # paging goes both ways
    assert back["text"] == page2["text"]
    _, [home] = await rider.tap(back, "最近")  # …and straight back to the nearest
    assert home["text"] == first["text"]
    # filters combine and each is one tap on the list itself (no menu in between)
    _, [filtered] = await rider.tap(home, "充电")
    assert "筛选：🔌充电" in filtered["text"]
    finder = runtime.services.finder
    for place, _ in finder.catalog.nearest(*XUZHOU, 5, kinds={"station", "canteen"}, amenity="charging"):
        assert place.name in filtered["text"]
        assert "charging" in place.amenities
    _, [both] = await rider.tap(filtered, "卫生间")
    assert "🔌充电+🚻卫生间" in both["text"]
    nearest_both = finder.catalog.nearest(*XUZHOU, 5, kinds={"station", "canteen"}, amenity=["charging", "toilet"])
    assert nearest_both and all({"charging", "toilet"} <= set(p.amenities) for p, _ in nearest_both)
    assert all(p.name in both["text"] for p, _ in nearest_both)
    lead_amenities = both["text"].split("\n")[3]
    assert lead_amenities.startswith("🔌充电 🚻卫生间"), "the filtered amenities come first"
    _, [toilet_only] = await rider.tap(both, "✅充电")
    assert "筛选：🚻卫生间" in toilet_only["text"] and "充电" not in toilet_only["text"].split("\n")[0]
    # the menu shows every filter as a toggle, starting from the ones in force
    _, [menu] = await rider.tap(toilet_only, "更多", in_place=True)
    assert any(b["text"] == "✅卫生间" for b in buttons(menu))
    _, [with_water] = await rider.tap(menu, "饮水")
    assert "💧饮水+🚻卫生间" in with_water["text"]


async def test_friendly_places_show_rider_policy(rider: ChatUser, runtime: Runtime) -> None:
    await rider.share_location(*XUZHOU)
    [reply] = await rider.send("🤝 友好小区/商家")
    assert reply["text"].startswith("📍 离你最近的友好小区/商家/医院")
    assert "骑手停车位" in reply["text"] or "绿色通道" in reply["text"] or "免费饮水" in reply["text"]
    assert "营业时间未知" not in reply["text"], "a community shows its gate policy, not unknown hours"
    # a merchant does not say "water" twice (an amenity and a "free water" policy)
    merchant = next(
        p
        for p in runtime.services.finder.catalog.places
        if p.kind == "merchant" and "water" in p.amenities and "free_water" in p.rider_policy
    )
    await rider.share_location(merchant.lat, merchant.lon)
    [friendly] = await rider.send("🤝 友好小区/商家")
    assert friendly["text"].split("\n")[1].endswith(merchant.name)
    assert "免费饮水" not in friendly["text"] or "💧饮水" not in friendly["text"]


async def test_keyboard_shortcut_without_a_location_asks_for_one(rider: ChatUser) -> None:
    [reply] = await rider.send("🏠 附近驿站")
    assert "请先发送你的位置" in reply["text"]


async def test_nothing_nearby_is_said_honestly_with_the_nearest_anything(rider: ChatUser, runtime: Runtime) -> None:
    # 12 km north of Xuzhou's stations: inside our coverage, beyond the 5 km search radius
    finder = runtime.services.finder
    spot = (34.38, 117.19)
    assert finder.nearest(*spot).status == "none_nearby"
    [reply] = await rider.share_location(*spot)
    assert "内没有找到驿站" in reply["text"]
    assert "公里" in reply["text"]
    assert any("🧭" in b["text"] for b in buttons(reply))


async def test_far_from_all_data_says_what_we_cover(rider: ChatUser) -> None:
    for spot in ((34.5, 122.5), (31.2304, 121.4737)):  # the Yellow Sea, Shanghai
        [reply] = await rider.share_location(*spot)
        assert "目前覆盖：徐州、马鞍山、宿州、禹城、泗县" in reply["text"], reply["text"]
        assert "/suggest" in reply["text"], "and how to suggest a station"
        assert "公里" not in reply["text"] and "骑行" not in reply["text"]


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
    [reply] = await rider.send("党群服务中心")
    assert buttons(reply), "an ambiguous name offers a choice"
    _, [card] = await rider.tap(reply, buttons(reply)[0]["text"][:4], replies=1)
    assert "%" not in card["text"] and "mode=ride" in button(card, "🧭")["url"]


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
    _, [menu] = await rider.tap(listing, "更多", in_place=True)
    _, [hospitals] = await rider.tap(menu, "友好医院")
    assert hospitals["text"].startswith("📍 离你最近的友好医院")
    finder = runtime.services.finder
    expected = finder.catalog.nearest(*XUZHOU, 5, kinds={"hospital"}, max_distance_m=finder.radius_m)
    assert expected and all(place.name in hospitals["text"] for place, _ in expected)
    assert all(place.kind == "hospital" for place, _ in expected)
