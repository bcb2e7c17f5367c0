"""The grid worker's loop is self-contained (issue #13): every card carries the next actions, the deadline and
the route; transfers say from whom and why; a merged duplicate's photos reach the assignee; /stats is one
message; each person's command menu fits their duties and language."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from telegram import BotCommandScopeChat

from bot.app import Runtime
from bot.clock import ManualClock
from tests.chat import ChatUser, button, buttons
from tests.reporting import file_report, grid_team, jpeg, new_messages, report_ref

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格 of the sample grids


@pytest.fixture
async def team(runtime: Runtime) -> dict[str, ChatUser]:
    return await grid_team(runtime, *HERE, second_worker="xz-hanfeng-diemeng-g1")


def ride_route(message: dict) -> dict[str, list[str]]:
    url = button(message, "🧭")["url"]
    parts = urlsplit(url)
    assert parts.netloc == "uri.amap.com" and parts.path == "/navigation", url
    return parse_qs(parts.query)


async def test_from_card_to_resolved_in_two_taps_with_deadline_and_route(
    runtime: Runtime, clock: ManualClock, team: dict[str, ChatUser]
) -> None:
    worker = team["worker"]
    worker.seen = runtime.standin.last_seq(worker.user_id)
    ref = report_ref(await file_report(team["rider"]))
    card, _pin = await new_messages(runtime, worker, 2)
    assert "30 分钟内接单 · 还剩 30 分钟" in card["caption"]
    route = ride_route(card)
    assert route["mode"] == ["ride"] and route["coordinate"] == ["gaode"]
    lon, lat = (float(v) for v in route["to"][0].split(",")[:2])
    assert lat != pytest.approx(HERE[0], abs=1e-4), "the route is in GCJ-02, not the rider's WGS-84"
    assert lat == pytest.approx(HERE[0], abs=0.01) and lon == pytest.approx(HERE[1], abs=0.01)
    # 18 minutes later the card from /queue says what is left
    clock.advance(timedelta(minutes=18))
    [queue] = await worker.send("/queue")
    _, [fresh] = await worker.tap(queue, ref)
    assert "30 分钟内接单 · 还剩 12 分钟" in fresh["text"]
    # tap 1: 接单 — the answer and the tapped card both carry 办结 · 转派 · 退回 and the route
    _, [accepted] = await worker.tap(card, "接单")
    assert "已接单" in accepted["text"] and "4 小时内办结 · 还剩" in accepted["text"]
    labels = [b["text"] for b in buttons(accepted)]
    assert any("办结" in x for x in labels) and any("转派" in x for x in labels) and any("退回" in x for x in labels)
    assert any("🧭" in x for x in labels)
    held = worker.current(card)
    assert any("办结" in b["text"] for b in buttons(held)), "the card the worker holds moved on too"
    # tap 2: 办结 on the card itself, then the after-photo and a note
    _, [ask_photo] = await worker.tap(held, "办结")
    assert "处理后的照片" in ask_photo["text"]
    await worker.send(photo=jpeg((40, 160, 60)))
    [done] = await worker.send("已清理")
    assert "已办结" in done["text"]


async def test_a_transfer_says_from_whom_and_why(runtime: Runtime, team: dict[str, ChatUser]) -> None:
    worker, other = team["worker"], team["other"]
    worker.seen = runtime.standin.last_seq(worker.user_id)
    other.seen = runtime.standin.last_seq(other.user_id)
    ref = report_ref(await file_report(team["rider"]))
    card, _ = await new_messages(runtime, worker, 2)
    _, [targets] = await worker.tap(card, "转派")
    await worker.tap(targets, "蝶梦社区第1网格")
    await worker.send("不属本网格职责")
    arrived, _ = await new_messages(runtime, other, 2)
    assert ref in arrived["caption"]
    assert "由 蝶梦社区第2网格 网格员 转派：不属本网格职责" in arrived["caption"]
    assert "30 分钟内接单" in arrived["caption"] and buttons(arrived)


async def test_a_merged_duplicates_photos_reach_the_assignee(runtime: Runtime, team: dict[str, ChatUser]) -> None:
    worker = team["worker"]
    ref = report_ref(await file_report(team["rider"]))
    await new_messages(runtime, worker, 2)
    second = ChatUser(runtime.standin, 1002, "骑手小张")
    await second.send(photo=jpeg((10, 10, 200)), caption="又堵了", replies=2)
    [categories] = await second.share_location(HERE[0] + 0.0001, HERE[1])
    _, [offer] = await second.tap(categories, "消防通道堵塞")
    await second.tap(offer, "补充我的照片")
    [extra] = await new_messages(runtime, worker, 1)
    assert "photo" in extra and ref in extra["caption"] and "又有 1 人反映" in extra["caption"]
    assert "骑手小张" not in extra["caption"]
    assert any("接单" in b["text"] for b in buttons(extra))


async def test_stats_is_one_message_with_today_and_yesterday(
    runtime: Runtime, clock: ManualClock, team: dict[str, ChatUser]
) -> None:
    await file_report(team["rider"])
    clock.advance(timedelta(days=1))
    await file_report(team["rider"], caption="又被堵了，另一处")
    before = runtime.standin.last_seq(team["street"].user_id)
    [stats] = await team["street"].send("/stats")
    await runtime.services.outbox.wait_idle()
    later = [m for m in runtime.standin.bot_messages(team["street"].user_id) if m["_seq"] > before]
    assert len(later) == 1, "one message, not one per area"
    text = stats["text"]
    assert "今日 新增 1" in text and "昨日 新增 1" in text and "在办 2" in text
    assert "汉风街道" in text


async def test_command_menus_fit_the_person_and_language(runtime: Runtime, team: dict[str, ChatUser]) -> None:
    bot = runtime.application.bot
    riders = [c.command for c in await bot.get_my_commands()]
    assert "queue" not in riders and "report" in riders
    english = await bot.get_my_commands(language_code="en")
    assert "Report a hazard" in [c.description for c in english]
    worker_menu = [c.command for c in await bot.get_my_commands(scope=BotCommandScopeChat(2001))]
    assert "queue" in worker_menu and "stats" not in worker_menu
    boss = await bot.get_my_commands(scope=BotCommandScopeChat(3001))
    assert {"queue", "stats", "overdue"} <= {c.command for c in boss}
    # an English-speaking supervisor gets English descriptions in their own menu
    await team["community"].send("/lang")
    boss = await bot.get_my_commands(scope=BotCommandScopeChat(3001))
    assert "Statistics (supervisors/admins)" in [c.description for c in boss]
    # after a restart the menus are published again from the roles table
    await runtime.stop()
    await runtime.start(poll_timeout=1)
    worker_menu = [c.command for c in await runtime.application.bot.get_my_commands(scope=BotCommandScopeChat(2001))]
    assert "queue" in worker_menu


async def test_an_unassigned_transfer_reaches_the_supervisor_with_its_origin(
    runtime: Runtime, team: dict[str, ChatUser]
) -> None:
    worker, community = team["worker"], team["community"]
    worker.seen = runtime.standin.last_seq(worker.user_id)
    community.seen = runtime.standin.last_seq(community.user_id)
    ref = report_ref(await file_report(team["rider"]))
    card, _ = await new_messages(runtime, worker, 2)
    _, [targets] = await worker.tap(card, "转派")
    _, _ask = await worker.tap(targets, "蝶梦社区第3网格")  # no worker bound there: its community supervisor
    await worker.send("在隔壁网格")
    arrived, _ = await new_messages(runtime, community, 2)
    assert ref in arrived["caption"] and "由 蝶梦社区第2网格 网格员 转派：在隔壁网格" in arrived["caption"]
    assert any("接单" in b["text"] for b in buttons(arrived))


@pytest.mark.parametrize(("step", "words"), [("退回", "✖ 取消"), ("办结", "✖ 取消"), ("退回", "/cancel")])
async def test_cancel_while_a_reason_or_note_is_asked_leaves_the_report(
    runtime: Runtime, team: dict[str, ChatUser], step: str, words: str
) -> None:
    """The cancel label typed (or /cancel) while a 退回 reason or a 办结 note is asked ends the question: it is not
    taken as the reason or the note, and the report stays as it was."""
    worker = team["worker"]
    worker.seen = runtime.standin.last_seq(worker.user_id)
    ref = report_ref(await file_report(team["rider"]))
    card, _ = await new_messages(runtime, worker, 2)
    if step == "办结":
        _, [accepted] = await worker.tap(card, "接单")
        await worker.tap(accepted, "办结")
        await worker.send(photo=jpeg((40, 160, 60)))
    else:
        _, [ask] = await worker.tap(card, "退回")
        assert "退回原因" in ask["text"]
    db = runtime.services.db
    before = tuple(await db.fetchone("SELECT status, version FROM reports"))
    [cancelled] = await worker.send(words)
    assert cancelled["text"] == f"已取消，{ref} 没有改动。"
    assert tuple(await db.fetchone("SELECT status, version FROM reports")) == before
    assert (await db.fetchone("SELECT COUNT(*) FROM dialogs"))[0] == 0, "the question is closed"
    [(events,)] = await db.fetchall("SELECT COUNT(*) FROM report_events WHERE action IN ('reject', 'resolve')")
    assert events == 0
