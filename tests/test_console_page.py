"""The web console in Chromium against the real stack: /console in the chat page → the link → the map with the
reports → one report → resolved with an after-photo → the rider's chat shows the notice. Also the offline
demo's one-tap sign-in. Screenshots go to $RIDER_CONSOLE_SHOTS (docs/ when refreshing docs/CONSOLE.md), else to
the test's temporary directory."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from bot.app import Runtime
from tests.chat import ChatUser
from tests.consoling import HERE, STREET, file_report, inside, seed_reports
from tests.reporting import bind, jpeg
from tests.test_chat_page import WAIT, bot_row_with, browser, inline_button, send_text  # noqa: F401 - fixture

pytestmark = pytest.mark.browser
DESK = {"width": 1280, "height": 820}


@pytest.fixture
async def desk(browser: Browser) -> AsyncIterator[BrowserContext]:  # noqa: F811
    context = await browser.new_context(viewport=DESK, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(WAIT)
    try:
        yield context
    finally:
        await context.close()


def _shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("RIDER_CONSOLE_SHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


async def _watch(page: Page) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return errors


async def test_from_chat_to_map_to_a_resolved_report(runtime: Runtime, desk: BrowserContext, tmp_path: Path) -> None:
    shots = _shots(tmp_path)
    rider = ChatUser(runtime.standin, 1001, "骑手小王")
    boss = ChatUser(runtime.standin, 3001, "社区书记")
    await bind(runtime, boss, "supervisor", STREET)
    second_spot = await inside(runtime, STREET)
    first = await file_report(rider, HERE, "楼道口消防通道被电动车堵住了")
    await file_report(rider, second_spot, "路灯不亮，晚上送餐看不清", "灯损坏")
    await seed_reports(runtime, 400, runtime.services.clock.now())  # a street with some history, for the pictures

    chat = await desk.new_page()
    chat_errors = await _watch(chat)
    await chat.goto(runtime.standin.url + "?user=3001")
    await expect(chat.get_by_test_id("user-switcher")).to_have_value("3001")
    await send_text(chat, "/console")
    row = bot_row_with(chat, "管理看板登录链接")
    await expect(row).to_be_visible()
    async with desk.expect_page() as opened:
        await inline_button(row, "打开管理看板").click()
    console = await opened.value
    errors = await _watch(console)
    await expect(console.locator("#signin")).to_be_visible()
    await console.locator("#signin").click()

    await expect(console.locator("#map")).to_be_visible()
    await expect(console.locator("body[data-map-loaded]")).to_be_attached()
    await expect(console.locator("#count")).to_contain_text("视野内")
    await expect(console.locator("path.leaflet-interactive").first).to_be_attached()  # the street's grids
    await console.screenshot(path=str(shots / "console-map.png"))

    await console.goto(console.url.split("/console/")[0] + f"/console/?focus={first}&state=open")
    await expect(console.locator("body[data-map-loaded]")).to_be_attached()
    pin = console.locator(f'.report-pin[data-ref="SP-{first:06d}"]')
    await expect(pin).to_be_visible()
    await pin.click()
    await expect(console.locator("h1")).to_contain_text(f"SP-{first:06d}")
    await expect(console.locator(".desc")).to_have_text("楼道口消防通道被电动车堵住了")
    await expect(console.locator(".photos img").first).to_be_visible()

    await console.locator(".act-accept").click()
    await expect(console.locator(".flash")).to_contain_text("接单")
    form = console.locator("form[action$='/resolve']")
    await form.locator("input[type=file]").set_input_files(
        {"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg((30, 150, 70), (320, 240))}
    )
    await form.locator("input[name=note]").fill("电动车已挪走，通道畅通")
    await console.screenshot(path=str(shots / "console-report.png"), full_page=True)
    await form.locator("button").click()
    await expect(console.locator(".badge").first).to_contain_text("已办结")
    await expect(console.locator(".photos img")).to_have_count(2)

    await runtime.services.outbox.wait_idle()
    await chat.get_by_test_id("user-switcher").select_option("1001")
    notice = bot_row_with(chat, "电动车已挪走，通道畅通")
    await expect(notice).to_be_visible(timeout=WAIT)
    await expect(notice.locator("img")).to_be_visible()

    await console.get_by_role("link", name="工单").click()
    await expect(console.locator("#queue tbody tr").first).to_be_visible()
    await console.screenshot(path=str(shots / "console-queue.png"))
    await console.get_by_role("link", name="统计").click()
    await expect(console.locator("svg.chart").first).to_be_visible()
    await console.screenshot(path=str(shots / "console-numbers.png"), full_page=True)
    assert not errors and not chat_errors, (errors, chat_errors)


async def test_the_demo_chat_page_signs_its_supervisor_in_with_one_tap(runtime: Runtime, desk: BrowserContext) -> None:
    boss = ChatUser(runtime.standin, 3001, "社区书记")
    await bind(runtime, boss, "supervisor", STREET)
    chat = await desk.new_page()
    await chat.goto(runtime.standin.url)
    link = chat.get_by_test_id("page-link")
    await expect(link).to_contain_text("看板")
    await expect(link).to_have_attribute("title", "管理看板：社区书记一键登录")
    async with desk.expect_page() as opened:
        await link.click()
    console = await opened.value
    await expect(console.locator("#map")).to_be_visible()
    await expect(console.locator("header.top .who")).to_contain_text("社区书记")
