"""The WeChat door's test set-up, shared by the modules that drive it: WeChat's API played by
bot/standin/wechat.py on 127.0.0.1, and the suite's settings with the 公众号 door pointed at it.

A module that imports `wx` and `settings` from here gets both as its fixtures (`settings` extends the conftest's)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest

from bot.config import Settings
from bot.standin.wechat import WeChatStandIn
from bot.webserver import WebServer

TOKEN = "wx-callback-token"
APPID = "wx0123456789abcdef"
SECRET = "app-secret-for-tests"


@contextlib.asynccontextmanager
async def wechat_standin(**options: Any) -> AsyncIterator[WeChatStandIn]:
    """WeChat's API stand-in served on a free 127.0.0.1 port (`options` go to WeChatStandIn)."""
    standin = WeChatStandIn(appid=APPID, secret=SECRET, **options)
    server = WebServer(standin.app)
    await server.start("127.0.0.1", 0)
    standin.url = server.url
    try:
        yield standin
    finally:
        await server.stop()


@pytest.fixture
async def wx() -> AsyncIterator[WeChatStandIn]:
    async with wechat_standin() as standin:
        yield standin


@pytest.fixture
def settings(settings: Settings, wx: WeChatStandIn) -> Settings:
    """The suite's settings plus the WeChat door, its API pointed at the stand-in."""
    return replace(
        settings,
        wechat_token=TOKEN,
        wechat_appid=APPID,
        wechat_secret=SECRET,
        wechat_api_base=wx.url,
    )
