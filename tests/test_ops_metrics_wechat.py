"""The WeChat door is counted like the Telegram one: messages by kind and outcome (a WeChat retry of the same
MsgId is a duplicate), the handler's latency, and the HTTP answers by status code — scraped from /metrics."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import httpx
import pytest

from bot.app import Runtime
from bot.config import Settings
from bot.standin.wechat import Callback, WeChatStandIn
from bot.tls import client_context
from bot.webserver import WebServer
from tests.test_ops_metrics import metrics_now, moved

TOKEN, APPID, SECRET = "wx-callback-token", "wx0123456789abcdef", "app-secret-for-tests"


@pytest.fixture
async def wx() -> AsyncIterator[WeChatStandIn]:
    standin = WeChatStandIn(appid=APPID, secret=SECRET)
    server = WebServer(standin.app)
    await server.start("127.0.0.1", 0)
    standin.url = server.url
    try:
        yield standin
    finally:
        await server.stop()


@pytest.fixture
def settings(settings: Settings, wx: WeChatStandIn) -> Settings:
    return replace(settings, wechat_token=TOKEN, wechat_appid=APPID, wechat_secret=SECRET, wechat_api_base=wx.url)


async def test_wechat_messages_are_counted_by_kind_and_outcome(runtime: Runtime) -> None:
    assert runtime.web is not None
    callback = Callback(token=TOKEN, appid=APPID, aes_key=None)
    before = await metrics_now(runtime)
    async with httpx.AsyncClient(
        verify=client_context(), base_url=runtime.web.url, timeout=10, trust_env=False
    ) as client:
        params, body = callback.text("oRiderMetrics", "你好", msg_id=424242)
        for _ in range(2):  # WeChat retries when it did not get the answer in time: the same MsgId again
            assert (await client.post("/wechat", params=params, content=body)).status_code == 200
        forged = await client.post("/wechat", params={**params, "signature": "0" * 40}, content=body)
        assert forged.status_code == 403
    after = await metrics_now(runtime)
    assert moved(before, after, "rider_updates_total", channel="wechat", kind="text", outcome="ok") == 1
    assert moved(before, after, "rider_updates_total", channel="wechat", kind="text", outcome="duplicate") == 1
    assert moved(before, after, "rider_handler_seconds_count", handler="wechat.conversation") == 1
    assert moved(before, after, "rider_http_requests_total", door="wechat", code="200") == 2
    assert moved(before, after, "rider_http_requests_total", door="wechat", code="403") == 1
