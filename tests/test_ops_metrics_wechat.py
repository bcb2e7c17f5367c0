"""The WeChat door is counted like the Telegram one: messages by kind and outcome (a WeChat retry of the same
MsgId is a duplicate), the handler's latency, and the HTTP answers by status code — scraped from /metrics."""

from __future__ import annotations

import httpx

from bot.app import Runtime
from bot.standin.wechat import Callback
from bot.tls import client_context
from tests import wechatting
from tests.test_ops_metrics import metrics_now, moved
from tests.wechatting import APPID, TOKEN

# the WeChat API stand-in and the settings that point the door at it, as this module's fixtures
wx = wechatting.wx
settings = wechatting.settings


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
