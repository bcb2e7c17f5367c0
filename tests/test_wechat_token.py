"""One WeChat access token per app id for every process on the database (issue 12): the stand-in plays WeChat
with its one-valid-token rule (a new token retires the old), two `Database` objects on one database play two
processes, two `WeChatApi` on each play two channels. Every wait is bounded."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.standin.wechat import WeChatStandIn
from bot.store import wechat_tokens
from bot.store.db import Database
from handlers.wechat.api import WeChatApi, WeChatApiError
from tests.wechatting import APPID, SECRET, wechat_standin

TIMEOUT = 20.0


@pytest.fixture
async def wx() -> AsyncIterator[WeChatStandIn]:
    async with wechat_standin(one_valid_token=True) as standin:  # WeChat's rule: a new token retires the old
        yield standin


@pytest.fixture
async def apis(tmp_path: Path, wx: WeChatStandIn) -> AsyncIterator[list[WeChatApi]]:
    """Two processes (each its own connection or pool to the one database), two channels each."""
    path = tmp_path / "rider.sqlite3"
    first = await Database(path).open()
    second = await Database(path).open()
    made = [WeChatApi(db, base=wx.url, appid=APPID, secret=SECRET) for db in (first, first, second, second)]
    try:
        yield made
    finally:
        for api in made:
            await api.close()
        await first.close()
        await second.close()


def token_fetches(wx: WeChatStandIn) -> int:
    return sum(1 for _, path in wx.calls if path == "/cgi-bin/token")


async def send_from_all(apis: list[WeChatApi], rounds: int = 3) -> None:
    async def one(api: WeChatApi, n: int) -> None:
        await api.custom_send({"touser": "o-rider", "msgtype": "text", "text": {"content": f"{n}"}})

    calls = [one(api, n) for api in apis for n in range(rounds)]
    await asyncio.wait_for(asyncio.gather(*calls), TIMEOUT)


async def test_two_processes_two_channels_fetch_one_token(apis: list[WeChatApi], wx: WeChatStandIn) -> None:
    tokens = await asyncio.wait_for(asyncio.gather(*(api.token() for api in apis for _ in range(3))), TIMEOUT)
    assert len(set(tokens)) == 1
    assert token_fetches(wx) == 1
    await send_from_all(apis)  # every process's calls work with it: nobody retired it by fetching another
    assert token_fetches(wx) == 1
    row = await wechat_tokens.read(apis[0].db, APPID)
    assert row is not None and row.fetches == 1 and row.refresh_until == 0


@pytest.mark.parametrize("errcode", [40001, 42001])
async def test_a_refused_token_is_refreshed_once_for_everyone(
    apis: list[WeChatApi], wx: WeChatStandIn, errcode: int
) -> None:
    await send_from_all(apis, rounds=1)
    wx.expire_tokens(errcode)  # every caller's next call is refused with this errcode
    sent = len(wx.sent)
    await send_from_all(apis)  # all succeed: had two processes refreshed, the first new token would be refused
    assert len(wx.sent) == sent + 12
    assert token_fetches(wx) == 2, "one fetch at the start, one refresh shared by all after the refusal"
    assert len({await api.token() for api in apis}) == 1


async def test_a_failed_fetch_is_not_repeated_by_every_caller(apis: list[WeChatApi], wx: WeChatStandIn) -> None:
    wx.fail_next("/cgi-bin/token", 40164, "invalid ip, not in whitelist", times=5)
    results = await asyncio.wait_for(
        asyncio.gather(*(api.token() for api in apis for _ in range(3)), return_exceptions=True), TIMEOUT
    )
    assert all(isinstance(r, WeChatApiError) and r.errcode == 40164 for r in results), results
    assert token_fetches(wx) == 1, "the others got the same answer from the database during the back-off"


async def test_a_token_close_to_expiry_is_replaced_early_by_one_process(
    apis: list[WeChatApi], wx: WeChatStandIn
) -> None:
    first = await apis[0].token()
    db = apis[0].db
    await db.write("UPDATE wechat_tokens SET expires_at = expires_at - 7000 WHERE appid = ?", (APPID,))  # 200 s left
    # While one process refreshes, the others may go on with the old token (still valid for minutes): no waiting.
    await asyncio.wait_for(asyncio.gather(*(api.token() for api in apis)), TIMEOUT)
    after = {await api.token() for api in apis}
    assert len(after) == 1 and first not in after
    assert token_fetches(wx) == 2
