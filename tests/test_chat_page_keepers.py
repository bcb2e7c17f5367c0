"""The station keeper on the stand-in's chat page, in headless Chromium against the real stack with the demo
people seeded: switched to 驿站站长老陈 (keeper of 小哥驿站（汉风街道）), /station and one tap set today's status;
switched back to the rider, the station's card says so, with "驿站 刚刚更新". Every wait is a bounded `expect`."""

from __future__ import annotations

import dataclasses

import pytest
from playwright.async_api import Page, expect

from bot.app import DEMO_KEEPER, DEMO_KEEPER_PLACE, Runtime
from bot.config import Settings
from tests import test_chat_page as chat_page
from tests.test_chat_page import WAIT, bot_row_with, inline_button, send_text

browser = chat_page.browser
page = chat_page.page

pytestmark = pytest.mark.browser

RIDER = 1001


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The conftest runtime gets the chat page's demo people (the demo keeper among them)."""
    return dataclasses.replace(settings, demo_people=True)


async def _switch_to(page: Page, user_id: int) -> None:
    await page.get_by_test_id("user-switcher").select_option(str(user_id))
    await expect(page.get_by_test_id("user-switcher")).to_have_value(str(user_id))


async def test_the_demo_keeper_sets_todays_status_and_the_rider_sees_it(page: Page, runtime: Runtime) -> None:
    name = runtime.services.finder.place(DEMO_KEEPER_PLACE).name
    switcher = page.get_by_test_id("user-switcher")
    await expect(switcher.locator(f"option[value='{DEMO_KEEPER}']")).to_contain_text("驿站站长老陈")

    await _switch_to(page, DEMO_KEEPER)
    await send_text(page, "/station")
    card = bot_row_with(page, "驿站管理")
    await expect(card).to_have_count(1, timeout=WAIT)
    await expect(card.locator(".text")).to_contain_text(name)
    await inline_button(card, "停电").click()
    await expect(bot_row_with(page, "已更新")).to_have_count(1, timeout=WAIT)

    await _switch_to(page, RIDER)
    await send_text(page, name)
    answer = bot_row_with(page, "今日停电")
    await expect(answer).to_have_count(1, timeout=WAIT)
    await expect(answer.locator(".text")).to_contain_text("驿站 刚刚更新")
    await expect(inline_button(answer, "信息有误")).to_be_visible()
