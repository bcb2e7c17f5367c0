"""The stand-in's phone-sized chat page, driven in headless Chromium against the real stack.

Playwright's async API runs in the same event loop as the `runtime` fixture (the stand-in's HTTP server and the
polling bot), so every wait below is a bounded `expect(...)`: a page or bot that does not answer fails the test
instead of hanging it.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Locator, Page, async_playwright, expect

from bot.app import Runtime

pytestmark = pytest.mark.browser

WAIT = 10_000  # ms, for anything that needs the bot to answer
XUZHOU = (34.2617, 117.1859)
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _chromium() -> str:
    path = os.environ.get("RIDER_CHROMIUM") or shutil.which("chromium")
    if path:
        return path
    if os.environ.get("CI"):
        pytest.fail("no Chromium for the browser tests: install Debian's `chromium` or set RIDER_CHROMIUM")
    pytest.skip("no Chromium found (set RIDER_CHROMIUM or install `chromium`)")


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    executable = _chromium()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            await browser.close()


@pytest.fixture
async def page(browser: Browser, runtime: Runtime) -> AsyncIterator[Page]:
    assert runtime.standin is not None
    context = await browser.new_context(viewport=PHONE, locale="zh-CN", timezone_id="Asia/Shanghai")
    context.set_default_timeout(WAIT)
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(runtime.standin.url)
        await expect(page.get_by_test_id("composer-input")).to_be_visible()
        # boot() has fetched the presets and picked the first user once the switcher is filled
        await expect(page.get_by_test_id("user-switcher")).to_have_value("1001")
        yield page
        assert not errors, f"uncaught errors on the page: {errors}"
    finally:
        await context.close()


# ---------------------------------------------------------------------------------------------- helpers


async def send_text(page: Page, text: str) -> None:
    await page.get_by_test_id("composer-input").fill(text)
    await page.get_by_test_id("composer-send").click()


def bot_rows(page: Page) -> Locator:
    """A bot message and its inline keyboard live in one `.row` (the buttons sit under the bubble)."""
    return page.locator(".row-bot")


def bot_row_with(page: Page, text: str) -> Locator:
    return bot_rows(page).filter(has=page.locator(".msg-bot .text", has_text=text))


def inline_button(row: Locator, label: str) -> Locator:
    return row.get_by_test_id("inline-button").filter(has_text=label)


async def open_sheet_and_pick(page: Page, search: str, name: str) -> None:
    await page.get_by_test_id("open-location").click()
    sheet = page.get_by_test_id("location-sheet")
    await expect(sheet).to_be_visible()
    await page.get_by_test_id("preset-search").fill(search)
    await page.get_by_test_id("preset-item").filter(has=page.get_by_text(name, exact=True)).click()
    await expect(sheet).to_be_hidden()


async def send_typed_location(page: Page, lat: float, lon: float) -> None:
    await page.get_by_test_id("open-location").click()
    sheet = page.get_by_test_id("location-sheet")
    await expect(sheet).to_be_visible()
    await page.get_by_test_id("lat-input").fill(str(lat))
    await page.get_by_test_id("lon-input").fill(str(lon))
    await page.get_by_test_id("location-send").click()
    await expect(sheet).to_be_hidden()


def preset(runtime: Runtime, name: str) -> dict:
    assert runtime.standin is not None
    return next(p for p in runtime.standin.presets if p["name"] == name)


def user_messages(runtime: Runtime, user_id: int = 1001) -> list[dict]:
    assert runtime.standin is not None
    return [m for m in runtime.standin.transcript(user_id) if not m["_from_bot"]]


# ---------------------------------------------------------------------------------------------- tests


async def test_start_keyboard_preset_location_and_venue_card(page: Page, runtime: Runtime, tmp_path: Path) -> None:
    await send_text(page, "/start")
    await expect(page.locator(".msg-user").last).to_contain_text("/start")
    greeting = page.locator(".msg-bot").first
    await expect(greeting).to_contain_text("骑手小王", timeout=WAIT)
    await expect(greeting).to_contain_text("驿站")
    keys = page.get_by_test_id("reply-kb-button")
    await expect(keys).to_have_text(["📍 发送位置", "🏠 附近驿站", "🤝 友好小区/商家", "📸 随手拍", "❓ 帮助"])
    await expect(page.get_by_test_id("composer-input")).to_have_attribute("placeholder", "发送位置，或输入地名")

    await keys.filter(has_text="发送位置").click()
    sheet = page.get_by_test_id("location-sheet")
    await expect(sheet).to_be_visible()
    await page.get_by_test_id("preset-search").fill("米兰")
    items = page.get_by_test_id("preset-item")
    await expect(items).to_have_count(2)
    await expect(items.first).to_contain_text("米兰社区")
    spot = preset(runtime, "米兰社区")
    await items.filter(has=page.get_by_text("米兰社区", exact=True)).click()
    await expect(sheet).to_be_hidden()
    await expect(page.get_by_test_id("location-card")).to_have_count(1)
    sent = user_messages(runtime)[-1]["location"]
    assert (sent["latitude"], sent["longitude"]) == pytest.approx((spot["lat"], spot["lon"]))

    assert runtime.services is not None
    [(nearest, _)] = runtime.services.finder.catalog.nearest(spot["lat"], spot["lon"], 1, kinds={"station", "canteen"})
    listing = bot_row_with(page, "离你最近的驿站")
    await expect(listing).to_have_count(1, timeout=WAIT)
    text = await listing.locator(".msg-bot .text").inner_text()
    lead = text.splitlines()[1]
    assert lead.endswith(nearest.name), f"nearest is {nearest.name!r}, the page leads with {lead!r}"
    assert text.index(nearest.name) < text.index("2. ")
    await expect(inline_button(listing, "🧭 路线")).to_have_count(1)

    await inline_button(listing, "详情").click()
    details = bot_row_with(page, f"{nearest.name} · ")
    await expect(details).to_have_count(1, timeout=WAIT)
    await inline_button(details, "地图").click()
    card = page.get_by_test_id("venue-card")
    await expect(card).to_have_count(1, timeout=WAIT)
    await expect(card.locator(".venue-title")).to_have_text(f"📍 {nearest.name}")
    await expect(card).to_be_in_viewport()
    venue_row = page.locator(".row-bot").filter(has=card)
    await expect(inline_button(venue_row, "🧭")).to_be_visible()

    shot = tmp_path / "chat-venue.png"
    await page.screenshot(path=str(shot))
    data = shot.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC)


async def test_typed_coordinates_are_validated_before_sending(page: Page, runtime: Runtime) -> None:
    await page.get_by_test_id("open-location").click()
    sheet = page.get_by_test_id("location-sheet")
    await expect(sheet).to_be_visible()
    lat, lon = page.get_by_test_id("lat-input"), page.get_by_test_id("lon-input")
    error = page.get_by_test_id("location-error")
    send = page.get_by_test_id("location-send")

    await lat.fill("三十四")
    await lon.fill("117.1859")
    await send.click()
    await expect(error).to_have_text("纬度必须是数字，例如 31.2304")
    await expect(lat).to_have_attribute("aria-invalid", "true")

    await lat.fill("34.2617")
    await lon.fill("200")
    await send.click()
    await expect(error).to_have_text("经度必须在 -180 到 180 之间")

    await lon.fill("")
    await send.click()
    await expect(error).to_have_text("请输入经度")
    await expect(sheet).to_be_visible()
    await expect(page.get_by_test_id("msg")).to_have_count(0)
    assert user_messages(runtime) == [], "nothing is sent while the coordinates are invalid"

    await lon.fill(str(XUZHOU[1]))
    await lat.fill(str(XUZHOU[0]))
    await send.click()
    await expect(sheet).to_be_hidden()
    await expect(page.get_by_test_id("location-card")).to_contain_text("34.26170, 117.18590")
    listing = bot_row_with(page, "离你最近的驿站")
    await expect(listing).to_have_count(1, timeout=WAIT)
    assert runtime.services is not None
    [(nearest, _)] = runtime.services.finder.catalog.nearest(*XUZHOU, 1, kinds={"station", "canteen"})
    await expect(listing.locator(".msg-bot .text")).to_contain_text(nearest.name)
    [sent] = user_messages(runtime)
    assert sent["location"]["latitude"] == pytest.approx(XUZHOU[0])


async def test_paging_and_filter_edit_the_list_in_place(page: Page, runtime: Runtime) -> None:
    await send_typed_location(page, *XUZHOU)
    listing = bot_row_with(page, "离你最近的驿站")
    await expect(listing).to_have_count(1, timeout=WAIT)
    message_id = await listing.get_attribute("data-mid")
    bubbles = page.locator(".msg-bot")
    await expect(bubbles).to_have_count(1)
    list_row = page.locator(f'.row[data-mid="{message_id}"]')

    await inline_button(listing, "➡️ 更远的").click()
    await expect(list_row.locator(".text")).to_contain_text("第 2 页", timeout=WAIT)
    await expect(list_row.locator(".text")).to_contain_text("6. ")
    await expect(list_row.locator(".edited")).to_be_visible()
    await expect(bubbles).to_have_count(1)

    # the filter menu's callback answer is a toast; the buttons are swapped on the same message
    await inline_button(list_row, "🔎 更多").click()
    toast = page.get_by_test_id("toast")
    await expect(toast).to_be_visible(timeout=WAIT)
    await expect(toast).to_have_text("只看有哪种设施的驿站？")
    await expect(inline_button(list_row, "微波炉")).to_be_visible(timeout=WAIT)
    await inline_button(list_row, "充电").click()
    await expect(list_row.locator(".text")).to_contain_text("筛选：🔌充电", timeout=WAIT)
    await expect(inline_button(list_row, "✅充电")).to_be_visible()
    await expect(bubbles).to_have_count(1)
    await expect(toast).not_to_contain_text("失败")

    # tapping "ℹ️ 详情" after all that still works: the page is not stuck on a busy button
    await inline_button(list_row, "详情").click()
    await expect(bot_row_with(page, "驿站")).to_have_count(2, timeout=WAIT)
    await expect(bubbles).to_have_count(2)


async def test_typed_place_name_and_switching_to_english(page: Page, runtime: Runtime) -> None:
    await send_text(page, "米兰社区")
    card = bot_row_with(page, "米兰社区 · ")
    await expect(card).to_have_count(1, timeout=WAIT)
    await expect(card.locator(".text")).to_contain_text("徐州")
    await inline_button(card, "地图").click()
    await expect(page.get_by_test_id("venue-card").locator(".venue-title")).to_have_text("📍 米兰社区", timeout=WAIT)

    await send_text(page, "/lang")
    await expect(page.locator(".msg-bot .text").last).to_have_text("Switched to English.", timeout=WAIT)
    keys = page.get_by_test_id("reply-kb-button")
    await expect(keys).to_have_text(
        ["📍 Send location", "🏠 Rest stations", "🤝 Friendly places", "📸 Report", "❓ Help"]
    )
    await expect(page.get_by_test_id("composer-input")).to_have_attribute(
        "placeholder", "Send a location or type a place"
    )

    await keys.filter(has_text="Send location").click()
    await page.get_by_test_id("preset-search").fill("米兰")
    await page.get_by_test_id("preset-item").filter(has=page.get_by_text("米兰社区", exact=True)).click()
    listing = bot_row_with(page, "📍 Nearest rest stations")
    await expect(listing).to_have_count(1, timeout=WAIT)
    await expect(inline_button(listing, "🧭 Route")).to_be_visible()
    await expect(listing.locator(".text")).not_to_contain_text(re.compile("离你最近|驿站（第"))


async def test_a_short_second_page_is_still_page_2(page: Page, runtime: Runtime) -> None:
    await open_sheet_and_pick(page, "米兰", "米兰社区")  # only 6 stations around: page 2 holds one
    listing = bot_row_with(page, "离你最近的驿站")
    await expect(listing).to_have_count(1, timeout=WAIT)
    message_id = await listing.get_attribute("data-mid")
    await inline_button(listing, "➡️ 更远的").click()
    text = page.locator(f'.row[data-mid="{message_id}"] .text')
    await expect(text).to_contain_text("6. ", timeout=WAIT)
    await expect(text).to_contain_text("第 2 页")  # once said 第 6 页: offset // len(hits) + 1
