"""The rider's own loop (issue #13): hazards nearby with 👍 我也遇到 (counted, no duplicate report, no reporter
identity, no private categories), 🔁 重新上报 for a rejected report (its photos and place reused), and a
report's timeline from /myreports (each step, who as a role, the notes, the after-photo)."""

from __future__ import annotations

import pytest

from bot.app import Runtime
from tests.chat import ChatUser, button, buttons
from tests.reporting import bind, file_report, grid_at, jpeg, new_messages

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids
NEARBY = (34.2549, 117.2080)  # about 100 m north
FAR = (34.2740, 117.2080)  # about 2 km north


@pytest.fixture
async def people(runtime: Runtime) -> tuple[ChatUser, ChatUser, ChatUser]:
    reporter = ChatUser(runtime.standin, 1001, "骑手小王")
    other = ChatUser(runtime.standin, 1002, "骑手小张")
    worker = ChatUser(runtime.standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid_at(runtime, *HERE))
    return reporter, other, worker


async def count(runtime: Runtime, sql: str, *params: object) -> int:
    row = await runtime.services.db.fetchone(sql, params)
    return int(row[0])


async def test_hazards_nearby_with_me_too(runtime: Runtime, people: tuple[ChatUser, ChatUser, ChatUser]) -> None:
    reporter, other, _ = people
    road = await file_report(reporter, "道路坑洼/井盖", "井盖松动，骑过去很危险")
    await file_report(reporter, "不文明养犬", "楼下的狗没拴绳")  # private: never shown to others
    reports_before = await count(runtime, "SELECT COUNT(*) FROM reports")
    [answer] = await other.share_location(*NEARBY)
    text = answer["text"]
    assert "⚠️ 附近 300 米内有人报告" in text and "道路坑洼/井盖" in text and "1 人反映" in text
    assert "养犬" not in text, "private categories are never shown"
    assert "骑手小王" not in text and "井盖松动" not in text, "nor who reported it or their words"
    me_too = button(answer, "我也遇到")
    assert me_too["callback_data"] == f"rh:{road}"
    alert, _ = await other.tap(answer, "我也遇到", replies=0)
    assert "共 2 人反映" in alert["text"]
    alert, _ = await other.tap(answer, "我也遇到", replies=0)
    assert "已经确认过" in alert["text"]
    assert await count(runtime, "SELECT COUNT(*) FROM report_confirmations WHERE report_id = ?", road) == 1
    assert await count(runtime, "SELECT COUNT(*) FROM reports") == reports_before, "no duplicate report"
    # the worker's card counts the confirmation
    worker = ChatUser(runtime.standin, 2001)
    await runtime.services.outbox.wait_idle()  # the forwarded cards have arrived: the next message is the queue
    [queue] = await worker.send("/queue")
    _, [card] = await worker.tap(queue, f"SP-{road:06d}")
    assert "2 人反映" in card["text"]
    # 2 km away: no hazard lines; a forged 👍 from there is refused
    third = ChatUser(runtime.standin, 1003, "骑手小赵")
    [far] = await third.share_location(*FAR)
    assert "附近 300 米内" not in far["text"]
    alert, _ = await third.press(far, f"rh:{road}", replies=0)
    assert alert.get("show_alert") and "附近" in alert["text"]
    assert await count(runtime, "SELECT COUNT(*) FROM report_confirmations WHERE report_id = ?", road) == 1


async def test_a_rejected_report_can_be_sent_again_with_its_photos_and_place(
    runtime: Runtime, people: tuple[ChatUser, ChatUser, ChatUser]
) -> None:
    reporter, _, worker = people
    worker.seen = runtime.standin.last_seq(worker.user_id)
    first = await file_report(reporter, "灯损坏", "路灯")
    cards = await new_messages(runtime, worker, 2)
    card = next(m for m in cards if buttons(m))
    before = runtime.standin.last_seq(reporter.user_id)
    await worker.tap(card, "退回")
    await worker.send("看不出是哪盏灯，请说明位置")
    await runtime.services.outbox.wait_idle()
    [told] = await runtime.standin.wait_for_bot_messages(reporter.user_id, 1, after_seq=before, timeout=8)
    assert "看不出是哪盏灯" in told["text"]
    _, [again, ask_words] = await reporter.tap(told, "重新上报", replies=2)
    assert f"SP-{first:06d}" in again["text"] and "1 张照片" in again["text"]
    assert "补充说明" in ask_words["text"]
    [summary] = await reporter.send("小区北门第三盏路灯不亮")
    assert "请确认上报内容" in summary["text"] and "灯损坏" in summary["text"] and "📷 1 张照片" in summary["text"]
    _, [received] = await reporter.tap(summary, "提交")
    second = int(received["text"].split("SP-")[1][:6])
    assert second != first
    photos = await runtime.services.db.fetchall(
        "SELECT report_id, sha256 FROM report_photos WHERE report_id IN (?, ?) ORDER BY report_id", (first, second)
    )
    assert len(photos) == 2 and photos[0]["sha256"] == photos[1]["sha256"], "the same photo, not retaken"
    row = await runtime.services.db.fetchone("SELECT lat, lon FROM reports WHERE id = ?", (second,))
    assert (row["lat"], row["lon"]) == pytest.approx(HERE)
    # only the reporter may send it again
    stranger = ChatUser(runtime.standin, 1009, "路人")
    [hello] = await stranger.send("/start")
    alert, _ = await stranger.press(hello, f"rs:{first}", replies=0)
    assert alert.get("show_alert")


async def test_myreports_opens_a_timeline(runtime: Runtime, people: tuple[ChatUser, ChatUser, ChatUser]) -> None:
    reporter, _, worker = people
    worker.seen = runtime.standin.last_seq(worker.user_id)
    report = await file_report(reporter, "消防通道堵塞", "电动车堵了消防通道")
    cards = await new_messages(runtime, worker, 2)
    card = next(m for m in cards if buttons(m))
    _, [accepted] = await worker.tap(card, "接单")
    await worker.tap(accepted, "办结")
    await worker.send(photo=jpeg((40, 160, 60)))
    await worker.send("已清理，通道畅通")
    await runtime.services.outbox.wait_idle()  # the rider has had the "resolved" notice before asking
    [mine] = await reporter.send("/myreports")
    _, messages = await reporter.tap(mine, f"SP-{report:06d}", replies=2)
    timeline, after = messages
    text = timeline["text"]
    for step in ("你：上报", "系统：转交处理", "网格员：接单", "网格员：办结"):
        assert step in text, (step, text)
    assert "已清理，通道畅通" in text, "the notes"
    assert "老李" not in text and "网格员老李" not in text, "a role, never a name"
    assert text.index("你：上报") < text.index("网格员：接单") < text.index("网格员：办结")
    assert "photo" in after and "处理后的照片" in after["caption"]
    # someone else's report is not theirs to open
    alert, _ = await ChatUser(runtime.standin, 1002).press(mine, f"ri:{report}", replies=0)
    assert alert.get("show_alert")
