"""Replayed WeChat callbacks through the real stack (Runtime, the /wechat door on 127.0.0.1, a SQLite file): a
plain-mode signature covers (token, timestamp, nonce) and not the body, so an old signed URL from an access log
must not let anyone post as any rider. Fixtures and the simulated WeChat user come from tests/test_wechat.py."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from bot.app import Runtime
from bot.clock import ManualClock
from bot.config import ConfigError, Settings, load_settings
from bot.standin.wechat import Callback, WeChatStandIn
from bot.texts import t
from tests import test_wechat as tw
from tests.conftest import DEFAULT_NOW
from tests.test_wechat import AES_KEY, APPID, TOKEN, WeChatRider, text_of

# The WeChat test module's fixtures, used here as they are there.
wx, settings, callback, wang = tw.wx, tw.settings, tw.callback, tw.wang
_user_row = tw._user_row


def resigned(callback: Callback, request: tuple[dict[str, str], bytes], timestamp: int) -> tuple[dict[str, str], bytes]:
    """The same body under a valid signature made at `timestamp`."""
    params, body = request
    return {**params, **callback.signed_params(timestamp=str(timestamp))}, body


async def processed(runtime: Runtime) -> int:
    return (await runtime.services.db.fetchone("SELECT COUNT(*) FROM wechat_inbox"))[0]


@pytest.mark.parametrize("skew", [-330, 330, -100_000_000])  # 5 min + a margin for a slow machine
async def test_a_timestamp_more_than_five_minutes_off_is_refused(
    runtime: Runtime, wang: WeChatRider, skew: int
) -> None:
    request = wang.callback.text(wang.openid, "帮助", msg_id=4000 + abs(skew) % 1000)
    response = await wang.post(resigned(wang.callback, request, int(time.time()) + skew))
    assert response.status_code == 403
    assert await processed(runtime) == 0 and await _user_row(runtime, wang.openid) is None
    # a few minutes of clock difference is fine
    [answer] = await wang.exchange(resigned(wang.callback, request, int(time.time()) - 200))
    assert text_of(answer) == t("zh-CN", "wechat.help")


async def test_a_signed_url_reused_with_another_body_is_refused(runtime: Runtime, wang: WeChatRider) -> None:
    params, body = wang.callback.text(wang.openid, "帮助", msg_id=5001)
    assert (await wang.post((params, body))).status_code == 200
    assert (await wang.post((params, body))).status_code == 200, "WeChat's own retry: same URL, same body"
    victim = "oGridWorker0001"
    _, forged_body = wang.callback.text(victim, "我的上报", msg_id=5002)
    for forged in (forged_body, body.replace("帮助".encode(), "我的上报".encode())):
        response = await wang.post(({**params, "openid": victim}, forged))
        assert response.status_code == 403
    assert await _user_row(runtime, victim) is None
    assert await processed(runtime) == 1


async def test_a_replay_is_refused_after_a_restart(settings: Settings, wx: WeChatStandIn, callback: Callback) -> None:
    request = callback.text("oRiderLi000001", "帮助", msg_id=6001)
    _, other_body = callback.text("oRiderLi000001", "米兰社区", msg_id=6002)
    first = Runtime(settings, ManualClock(DEFAULT_NOW))
    await first.start(poll_timeout=1)
    try:
        rider = WeChatRider(first, wx, callback, "oRiderLi000001")
        assert (await rider.post(request)).status_code == 200
    finally:
        await first.stop()
    second = Runtime(settings, ManualClock(DEFAULT_NOW))
    await second.start(poll_timeout=1)
    try:
        rider = WeChatRider(second, wx, callback, "oRiderLi000001")
        assert (await rider.post((request[0], other_body))).status_code == 403
        assert (await rider.post(request)).status_code == 200  # the retry still gets its answer
    finally:
        await second.stop()


async def test_require_encryption_refuses_plain_posts(settings: Settings, wx: WeChatStandIn) -> None:
    strict = replace(settings, wechat_aes_key=AES_KEY, wechat_require_encryption=True)
    runtime = Runtime(strict, ManualClock(DEFAULT_NOW))
    await runtime.start(poll_timeout=1)
    try:
        plain = WeChatRider(runtime, wx, Callback(token=TOKEN, appid=APPID), "oPlain0000001")
        assert (await plain.post(plain.callback.text(plain.openid, "帮助", msg_id=7001))).status_code == 403
        raw = plain.callback.text(plain.openid, "帮助", msg_id=7002)
        assert (await plain.post(({**raw[0], "encrypt_type": "raw"}, raw[1]))).status_code == 403
        assert await _user_row(runtime, plain.openid) is None
        safe = WeChatRider(runtime, wx, Callback(token=TOKEN, appid=APPID, aes_key=AES_KEY), "oSafe00000001")
        [answer] = await safe.say("帮助")
        assert text_of(answer) == t("zh-CN", "wechat.help")
    finally:
        await runtime.stop()


def test_require_encryption_setting() -> None:
    env = {"RIDER_WECHAT_TOKEN": "tok", "RIDER_WECHAT_AES_KEY": AES_KEY, "RIDER_WECHAT_APPID": APPID}
    assert not load_settings(env=env).wechat_require_encryption
    assert load_settings(env={**env, "RIDER_WECHAT_REQUIRE_ENCRYPTION": "yes"}).wechat_require_encryption
    assert not load_settings(env={**env, "RIDER_WECHAT_REQUIRE_ENCRYPTION": "0"}).wechat_require_encryption
    with pytest.raises(ConfigError, match="wechat_require_encryption"):
        load_settings(env={**env, "RIDER_WECHAT_REQUIRE_ENCRYPTION": "maybe"})
    with pytest.raises(ConfigError, match="needs wechat_aes_key"):
        load_settings(env={"RIDER_WECHAT_TOKEN": "tok", "RIDER_WECHAT_REQUIRE_ENCRYPTION": "true"})
