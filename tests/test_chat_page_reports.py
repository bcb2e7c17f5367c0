"""随手拍 on the stand-in's chat page, in headless Chromium against the real stack with the demo people seeded.

A rider uploads a real JPEG with a caption, shares a preset place in 徐州, picks a category and submits; the page is
switched to the grid worker (网格员老李, a worker of every grid via `seed_demo_people`), who sees the forwarded card
and accepts it; back as the rider, the page shows that a worker took the job. Every wait is a bounded `expect`.
"""

from __future__ import annotations

import dataclasses
import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image
from playwright.async_api import Page, expect

from bot.app import DEMO_WORKER, Runtime
from bot.config import Settings
from tests import test_chat_page as chat_page
from tests.test_chat_page import PNG_MAGIC, WAIT, bot_row_with, inline_button, send_text, user_messages

# the page fixtures of the chat page tests; `page` resolves `runtime` here, so it gets the one with demo people
browser = chat_page.browser
page = chat_page.page

pytestmark = pytest.mark.browser

RIDER = 1001
CAPTION = "消防通道被电动车堵住了"
PLACE = "蝶梦社区"  # a sample community in 徐州, inside 蝶梦社区第2网格


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The conftest runtime gets the chat page's demo people: 2001 works every grid, 3001 every street."""
    return dataclasses.replace(settings, demo_people=True)


def _jpeg(path: Path) -> Path:
    buffer = io.BytesIO()
    image = Image.new("RGB", (640, 480), (200, 80, 40))
    for x in range(0, 640, 40):  # a few stripes, so it is a photo of something rather than one flat colour
        image.paste((240, 220, 60), (x, 0, x + 12, 480))
    image.save(buffer, "JPEG", quality=85)
    path.write_bytes(buffer.getvalue())
    return path


async def _screenshot(page: Page, tmp_path: Path, name: str) -> Path:
    shot = tmp_path / name
    await page.screenshot(path=str(shot), animations="disabled")
    _check_and_keep(shot)
    return shot


def _check_and_keep(shot: Path) -> None:
    data = shot.read_bytes()
    assert len(data) > 1000 and data.startswith(PNG_MAGIC)
    keep = os.environ.get("RIDER_SCREENSHOTS")  # a directory to keep the pictures in, for a human to look at
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(keep) / shot.name)


async def _switch_to(page: Page, user_id: int) -> None:
    await page.get_by_test_id("user-switcher").select_option(str(user_id))
    await expect(page.get_by_test_id("user-switcher")).to_have_value(str(user_id))


async def test_report_from_photo_to_accepted_across_switched_users(
    page: Page, runtime: Runtime, tmp_path: Path
) -> None:
    assert runtime.standin is not None
    photo = _jpeg(tmp_path / "hazard.jpg")

    # the rider: a caption typed in the composer goes with the photo picked next
    await page.get_by_test_id("composer-input").fill(CAPTION)
    await page.locator("#photo-input").set_input_files(str(photo))
    sent = page.locator(".row-user").filter(has=page.locator("img.photo"))
    await expect(sent).to_have_count(1, timeout=WAIT)
    await expect(sent.locator(".text")).to_have_text(CAPTION)
    await expect(page.get_by_test_id("composer-input")).to_have_value("")
    await expect(bot_row_with(page, "已收到第 1 张照片")).to_have_count(1, timeout=WAIT)
    await expect(bot_row_with(page, "隐患在哪里？请发送位置")).to_have_count(1, timeout=WAIT)
    await _screenshot(page, tmp_path, "reports-rider-photo.png")
    [uploaded] = [m for m in user_messages(runtime, RIDER) if m.get("photo")]
    assert uploaded.get("caption") == CAPTION

    # a preset found by its city; the second line names the city instead of bare coordinates
    await page.get_by_test_id("open-location").click()
    sheet = page.get_by_test_id("location-sheet")
    await expect(sheet).to_be_visible()
    await page.get_by_test_id("preset-search").fill("徐州")
    box = await page.get_by_test_id("preset-search").bounding_box()
    assert box is not None and box["height"] >= 40, f"a long list squeezed the search box: {box}"
    place = page.get_by_test_id("preset-item").filter(has=page.get_by_text(PLACE, exact=True))
    await expect(place).to_have_count(1)
    await expect(place.locator(".preset-sub")).to_contain_text("徐州")
    await _screenshot(page, tmp_path, "reports-presets-xuzhou.png")
    await place.click()
    await expect(sheet).to_be_hidden()
    await expect(page.get_by_test_id("location-card")).to_have_count(1)

    categories = bot_row_with(page, "请选择类别")
    await expect(categories).to_have_count(1, timeout=WAIT)
    await inline_button(categories, "🚒 消防通道堵塞").click()
    summary = bot_row_with(page, "请确认上报内容")
    await expect(summary).to_have_count(1, timeout=WAIT)
    await expect(summary.locator(".text")).to_contain_text(CAPTION)
    await expect(summary.locator(".text")).to_contain_text("消防通道堵塞")
    await inline_button(summary, "✅ 提交").click()
    received = bot_row_with(page, "已收到，编号 SP-")
    await expect(received).to_have_count(1, timeout=WAIT)
    text = await received.locator(".text").inner_text()
    ref = text.split("编号 ")[1].split("。")[0]
    assert ref.startswith("SP-"), text

    # the grid worker: the forwarded photo with the job card under it, its buttons, and where it is
    await _switch_to(page, DEMO_WORKER)
    card = page.locator(".row-bot").filter(has=page.locator("img.photo")).filter(has_text=ref)
    await expect(card).to_have_count(1, timeout=WAIT)
    await expect(card.locator(".text")).to_contain_text("消防通道堵塞")
    await expect(card.locator(".text")).to_contain_text(CAPTION)
    await expect(card.locator(".text")).not_to_contain_text("骑手小王")
    for label in ("🛠 接单", "🔀 转派", "↩ 退回"):
        await expect(inline_button(card, label)).to_be_visible()
    # the image really loads (the stand-in serves the bot's copy of the rider's upload)
    await expect(card.locator("img.photo")).to_have_js_property("complete", True, timeout=WAIT)
    assert await card.locator("img.photo").evaluate("img => img.naturalWidth") > 0
    venue = page.get_by_test_id("venue-card")
    await expect(venue).to_have_count(1, timeout=WAIT)
    await card.scroll_into_view_if_needed()
    await _screenshot(page, tmp_path, "reports-worker-card.png")

    await inline_button(card, "🛠 接单").click()
    accepted = bot_row_with(page, "已接单")
    await expect(accepted).to_have_count(1, timeout=WAIT)
    await expect(accepted.locator(".text")).to_contain_text(ref)
    await _screenshot(page, tmp_path, "reports-worker-accepted.png")

    # back to the rider: the transcript is reloaded and carries the news, and not the worker's toast
    await _switch_to(page, RIDER)
    await expect(page.get_by_test_id("toast")).to_be_hidden()
    await expect(bot_row_with(page, f"{ref} 已被网格员接单")).to_have_count(1, timeout=WAIT)
    await expect(bot_row_with(page, "获得 10 积分")).to_have_count(1, timeout=WAIT)
    await expect(page.locator(".row-user").filter(has=page.locator("img.photo"))).to_have_count(1)
    await _screenshot(page, tmp_path, "reports-rider-told.png")


async def test_phone_numbers_in_bot_text_are_tel_links(page: Page, runtime: Runtime) -> None:
    await send_text(page, "米兰社区")
    card = bot_row_with(page, "米兰社区 · ")
    await expect(card).to_have_count(1, timeout=WAIT)
    text = await card.locator(".text").inner_text()
    assert "☎ " in text, text
    phone = text.split("☎ ")[1].split()[0]
    link = card.locator(".text a.tel").first
    await expect(link).to_have_text(phone)
    await expect(link).to_have_attribute("href", "tel:" + phone.replace("-", ""))
    # coordinates, times and report numbers are not phone numbers
    await expect(card.locator(".text a.tel")).to_have_count(1)
