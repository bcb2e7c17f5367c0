"""Routing variants through the real stack: a grid's group chat, category rules, the street queue, admins."""

from __future__ import annotations

from dataclasses import replace

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import Settings
from tests.chat import ChatUser, button
from tests.reporting import bind, grid_at, jpeg

HERE = (34.2540, 117.2080)  # inside 蝶梦社区第2网格
FAR = (34.3600, 117.1000)  # Xuzhou's outskirts: 9 km from any sample grid, inside the 20 km coverage


async def file_report(rider: ChatUser, where: tuple[float, float], category: str) -> str:
    await rider.send(photo=jpeg(), caption="测试", replies=2)
    [categories] = await rider.share_location(*where)
    _, [summary] = await rider.tap(categories, category)
    _, [received] = await rider.tap(summary, "提交")
    assert "已收到" in received["text"], received["text"]
    return received["text"]


async def test_a_grid_with_a_group_chat_forwards_there_and_answers_privately(runtime: Runtime) -> None:
    grid = grid_at(runtime, *HERE)
    worker = ChatUser(runtime.standin, 2001, "网格员老李")
    await bind(runtime, worker, "worker", grid)
    group = -100500
    async with runtime.services.db.transaction() as conn:
        await conn.execute("UPDATE grids SET group_chat = ? WHERE id = ?", (str(group), grid))
    await runtime.services.reload_grids()
    rider = ChatUser(runtime.standin, 1001)
    await file_report(rider, HERE, "消防通道堵塞")
    await runtime.services.outbox.wait_idle()
    card = (await runtime.standin.wait_for_bot_messages(group, 2, timeout=8))[0]
    before = runtime.standin.last_seq(worker.user_id)
    query = runtime.standin.inject_callback(worker.user_id, card["message_id"], button(card, "接单")["callback_data"])
    await runtime.standin.wait_for_callback_answer(query, timeout=8)
    [private] = await runtime.standin.wait_for_bot_messages(worker.user_id, 1, after_seq=before, timeout=8)
    assert "已接单" in private["text"]


async def test_far_from_every_grid_goes_to_the_street_supervisors(runtime: Runtime) -> None:
    route = runtime.services.grids.route(*FAR)
    assert route.how == "street" and route.street is not None
    supervisor = ChatUser(runtime.standin, 3001, "街道值班")
    await bind(runtime, supervisor, "supervisor", route.street.id)
    rider = ChatUser(runtime.standin, 1001)
    before = runtime.standin.last_seq(supervisor.user_id)
    text = await file_report(rider, FAR, "环境卫生")
    assert route.street.name in text
    await runtime.services.outbox.wait_idle()
    card = (await runtime.standin.wait_for_bot_messages(supervisor.user_id, 2, after_seq=before, timeout=8))[0]
    _, [accepted] = await supervisor.tap(card, "接单")
    assert "已接单" in accepted["text"]


async def test_a_category_rule_sends_straight_to_the_department(settings: Settings, clock: ManualClock) -> None:
    settings = replace(settings, extra={"category_routes": {"dogs": "gongan"}})
    runtime = Runtime(settings, clock)
    await runtime.start(poll_timeout=1)
    try:
        police = ChatUser(runtime.standin, 4001, "派出所")
        await bind(runtime, police, "department", "gongan")
        rider = ChatUser(runtime.standin, 1001)
        before = runtime.standin.last_seq(police.user_id)
        text = await file_report(rider, HERE, "不文明养犬")
        assert "公安" in text
        await runtime.services.outbox.wait_idle()
        card = (await runtime.standin.wait_for_bot_messages(police.user_id, 2, after_seq=before, timeout=8))[0]
        assert "不文明养犬" in card["caption"]
    finally:
        await runtime.stop()


async def test_with_nobody_bound_the_admins_get_it(settings: Settings, clock: ManualClock) -> None:
    runtime = Runtime(replace(settings, admins=(9001,)), clock)
    await runtime.start(poll_timeout=1)
    try:
        admin = ChatUser(runtime.standin, 9001, "管理员")
        await admin.send("/start")
        before = runtime.standin.last_seq(admin.user_id)
        rider = ChatUser(runtime.standin, 1001)
        await file_report(rider, HERE, "灯损坏")
        await runtime.services.outbox.wait_idle()
        card = (await runtime.standin.wait_for_bot_messages(admin.user_id, 2, after_seq=before, timeout=8))[0]
        assert "灯损坏" in card["caption"]
        _, [accepted] = await admin.tap(card, "接单")
        assert "已接单" in accepted["text"]
    finally:
        await runtime.stop()
