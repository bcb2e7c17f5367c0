"""The chat page on a phone (issue #13): it resynchronises after the bot restarts and keeps the transcript, a
failed send keeps the typed text with a toast in the page's language, a long new answer is shown from its top,
and an answer that lands while the reader is scrolled up shows a "new message ↓" badge."""

from __future__ import annotations

import asyncio
import dataclasses

import pytest
from playwright.async_api import Page, Route, expect

from bot.app import Runtime
from bot.config import Settings
from tests import test_chat_page as chat_page
from tests.ports import free_port
from tests.test_chat_page import WAIT, bot_row_with, send_text

browser = chat_page.browser
page = chat_page.page

pytestmark = pytest.mark.browser
RIDER = 1001


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """The conftest runtime on a fixed port, so a restarted bot serves the same page address."""
    return dataclasses.replace(settings, demo_port=free_port())


async def _top_gap(page: Page, row_text: str) -> float:
    """How far below the top of the visible transcript the row's first line is (negative: scrolled past)."""
    return await page.evaluate(
        """(text) => {
            const rows = [...document.querySelectorAll('.row-bot')].filter((r) => r.textContent.includes(text));
            const t = document.getElementById('transcript').getBoundingClientRect().top;
            return rows[rows.length - 1].getBoundingClientRect().top - t;
        }""",
        row_text,
    )


async def test_the_page_resyncs_after_a_restart_and_keeps_the_transcript(page: Page, runtime: Runtime) -> None:
    await send_text(page, "/start")
    await expect(bot_row_with(page, "骑手助手").first).to_be_visible(timeout=WAIT)
    before = await page.locator(".row").count()
    await runtime.stop()
    await runtime.start(poll_timeout=1)
    await expect(page.get_by_test_id("restart-divider")).to_be_visible(timeout=WAIT)
    assert await page.locator(".row").count() == before, "the transcript from before the restart is kept"
    await send_text(page, "/help")
    await expect(bot_row_with(page, "使用说明").last).to_be_visible(timeout=WAIT)
    assert await page.locator(".row.archived").count() == before


async def test_a_failed_send_keeps_the_text_and_says_so_in_the_pages_language(page: Page) -> None:
    async def fail(route: Route) -> None:
        await route.fulfill(status=502, json={"error": "Bad Gateway: upstream went away"})

    await page.route("**/_standin/users/*/messages", fail)
    await send_text(page, "米兰社区在哪")
    toast = page.get_by_test_id("toast")
    await expect(toast).to_be_visible()
    await expect(toast).to_contain_text("发送失败")
    assert "Bad Gateway" not in (await toast.text_content() or "")
    await expect(page.get_by_test_id("composer-input")).to_have_value("米兰社区在哪")
    await page.unroute("**/_standin/users/*/messages")
    await page.get_by_test_id("composer-send").click()
    await expect(page.get_by_test_id("composer-input")).to_have_value("")


async def test_a_long_answer_is_shown_from_its_top(page: Page, runtime: Runtime) -> None:
    await send_text(page, "/start")
    await expect(bot_row_with(page, "骑手助手").first).to_be_visible(timeout=WAIT)
    long_text = "长答案第一行\n" + "\n".join(f"第 {i} 行内容" for i in range(80))
    await runtime.application.bot.send_message(RIDER, long_text)
    await expect(bot_row_with(page, "长答案第一行")).to_be_visible(timeout=WAIT)
    gap = await _top_gap(page, "长答案第一行")
    assert 0 <= gap <= 40, f"the long answer's first line is at the top of the screen, not {gap}px off"


async def test_an_answer_below_the_fold_shows_a_badge(page: Page, runtime: Runtime) -> None:
    await send_text(page, "/start")
    await expect(bot_row_with(page, "骑手助手").first).to_be_visible(timeout=WAIT)
    for i in range(12):
        await runtime.application.bot.send_message(RIDER, f"填充消息 {i}\n" + "内容\n" * 6)
    await expect(bot_row_with(page, "填充消息 11")).to_be_attached(timeout=WAIT)
    badge = page.get_by_test_id("new-badge")
    # the fillers end below the fold if a batch of them was shown from its top (how they were batched is network
    # timing): reading down to the end clears the badge
    transcript = "document.getElementById('transcript')"
    await page.evaluate(f"{transcript}.scrollTop = {transcript}.scrollHeight")
    await expect(badge).to_be_hidden()
    await page.evaluate(f"{transcript}.scrollTop = 0")
    await page.wait_for_timeout(300)
    await expect(badge).to_be_hidden()
    await runtime.application.bot.send_message(RIDER, "刚到的新消息")
    await expect(badge).to_be_visible(timeout=WAIT)
    await expect(badge).to_have_text("新消息 ↓")
    assert await page.evaluate("document.getElementById('transcript').scrollTop") < 50, "the reader is not yanked"
    await badge.click()
    await expect(badge).to_be_hidden()
    await expect(bot_row_with(page, "刚到的新消息")).to_be_in_viewport()


async def test_a_burst_shown_from_its_top_points_below_however_it_was_batched(page: Page, runtime: Runtime) -> None:
    """The page's polls cut a burst into batches as the network goes. Held back and delivered together, the rest of
    the burst lands out of sight below the first message: the badge says so, as it does when the rest comes in a
    later batch."""
    await send_text(page, "/start")
    await expect(bot_row_with(page, "骑手助手").first).to_be_visible(timeout=WAIT)
    release = asyncio.Event()

    async def hold(route: Route) -> None:
        await release.wait()
        await route.continue_()

    await page.route("**/_standin/chats/*/messages*", hold)  # the poll already waiting answers once; the next waits
    for i in range(12):
        await runtime.application.bot.send_message(RIDER, f"连发消息 {i}\n" + "内容\n" * 6)
    release.set()
    await expect(bot_row_with(page, "连发消息 11")).to_be_attached(timeout=WAIT)
    await page.unroute("**/_standin/chats/*/messages*")
    badge = page.get_by_test_id("new-badge")
    await expect(badge).to_be_visible()
    await expect(bot_row_with(page, "连发消息 11")).not_to_be_in_viewport()
    transcript = "document.getElementById('transcript')"
    before = await page.evaluate(f"{transcript}.scrollTop")
    await badge.click()
    await expect(badge).to_be_hidden()
    assert await page.evaluate(f"{transcript}.scrollTop") > before, "the badge leads down to what was out of sight"
